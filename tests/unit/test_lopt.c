/*
 * Unit tests of the LU options over the SCSI core: thin provisioning
 * (UNMAP, WRITE SAME with UNMAP/ANCHOR/NDOB, GET LBA STATUS, READ CAPACITY
 * (16) and VPD B0h/B2h fields), physical block size, the removable medium
 * (START STOP UNIT with LOEJ, PREVENT ALLOW MEDIUM REMOVAL per I_T nexus,
 * NOT READY while the medium is out), read-only LUs, SANITIZE (overwrite,
 * block and cryptographic erase, progress while it runs, failure mode),
 * and the checks of scsi_lu_create on the new parameters.
 *
 * The LUs of the options live on "lopt-mem", a store that keeps an
 * allocation map per 512 bytes (DISCARD deallocates and zeroes, its
 * lba_status reports the map), can hold requests and fail one on demand.
 */
#include "scsi_harness.h"

#include <unistd.h>

#include "scsi/sbc.h"
#include "scsi/ua.h"

#define BS	      512u
#define LU_SIZE	      (1024u * 1024u) /* 2048 blocks of 512 bytes */
#define LU_BLOCKS     (LU_SIZE / BS)
#define LUN_THIN      1
#define LUN_REMOVE    2
#define LUN_RO	      3
#define LUN_THIN4K    4 /* 4096-byte blocks, thin */
#define LM_DATA_LIMIT (16u << 20)

/* ---- the store ---- */

struct lm_store {
	struct bs_dev dev;
	uint8_t *data;
	bool *mapped; /* per 512 bytes */
	pthread_mutex_t lock;
	bool hold;
	struct bs_req *held[4];
	unsigned nr_held;
	int fail_next;
	unsigned discards, zeroes, writes, flushes;
};

static struct bs_ops lm_ops;

static int lm_open(const char *path, const struct bs_open_args *args,
		   struct bs_dev **out, char *err, size_t errlen)
{
	struct lm_store *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	/* Larger stores keep only the allocation map (reads: zeros). */
	if (args->create_size <= LM_DATA_LIMIT)
		s->data = calloc(1, args->create_size);
	s->mapped = calloc(args->create_size / 512, sizeof(bool));
	if ((!s->data && args->create_size <= LM_DATA_LIMIT) || !s->mapped) {
		free(s->data);
		free(s->mapped);
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->dev.ops = &lm_ops;
	s->dev.size = args->create_size;
	s->dev.readonly = args->readonly;
	*out = &s->dev;
	return 0;
}

static void lm_close(struct bs_dev *dev)
{
	struct lm_store *s = container_of(dev, struct lm_store, dev);

	pthread_mutex_destroy(&s->lock);
	free(s->data);
	free(s->mapped);
	free(s);
}

static void lm_map(struct lm_store *s, uint64_t off, uint64_t len, bool m)
{
	for (uint64_t b = off / 512; b < (off + len) / 512; b++)
		s->mapped[b] = m;
}

static int lm_do(struct lm_store *s, struct bs_req *req)
{
	if (req->offset > s->dev.size || req->len > s->dev.size - req->offset)
		return -ERANGE;
	switch (req->op) {
	case BS_OP_READ:
		if (s->data)
			memcpy(req->buf, s->data + req->offset, req->len);
		else
			memset(req->buf, 0, req->len);
		break;
	case BS_OP_WRITE:
		if (s->data)
			memcpy(s->data + req->offset, req->buf, req->len);
		lm_map(s, req->offset, req->len, true);
		s->writes++;
		break;
	case BS_OP_WRITE_ZEROES:
		if (s->data)
			memset(s->data + req->offset, 0, req->len);
		lm_map(s, req->offset, req->len, true);
		s->zeroes++;
		break;
	case BS_OP_DISCARD:
		if (s->data)
			memset(s->data + req->offset, 0, req->len);
		lm_map(s, req->offset, req->len, false);
		s->discards++;
		break;
	case BS_OP_FLUSH:
		s->flushes++;
		break;
	case BS_OP_COMPARE_AND_WRITE:
		return -EOPNOTSUPP; /* no BS_CAP_COMPARE_WRITE */
	}
	return 0;
}

static void lm_submit(struct bs_dev *dev, struct bs_req *req)
{
	struct lm_store *s = container_of(dev, struct lm_store, dev);
	int rc;

	pthread_mutex_lock(&s->lock);
	if (s->hold && s->nr_held < 4) {
		s->held[s->nr_held++] = req;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	rc = s->fail_next;
	s->fail_next = 0;
	if (!rc)
		rc = lm_do(s, req);
	pthread_mutex_unlock(&s->lock);
	bs_complete(req, rc);
}

static int lm_lba_status(struct bs_dev *dev, uint64_t offset, uint64_t len,
			 bool *mapped, uint64_t *run_len)
{
	struct lm_store *s = container_of(dev, struct lm_store, dev);
	uint64_t b = offset / 512, end = (offset + len) / 512, e;

	pthread_mutex_lock(&s->lock);
	*mapped = s->mapped[b];
	for (e = b; e < end && s->mapped[e] == *mapped; e++)
		;
	pthread_mutex_unlock(&s->lock);
	*run_len = (e - b) * 512;
	return 0;
}

static struct bs_ops lm_ops = {
    .name = "lopt-mem",
    .open = lm_open,
    .close = lm_close,
    .submit = lm_submit,
    .lba_status = lm_lba_status,
};

BS_REGISTER(lm_ops)

static struct lm_store *lm(uint64_t lun)
{
	return container_of(ht_lu(lun)->bs, struct lm_store, dev);
}

static void lm_release(struct lm_store *s)
{
	struct bs_req *held[4];
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = s->nr_held;
	memcpy(held, s->held, sizeof(held));
	s->nr_held = 0;
	s->hold = false;
	for (unsigned i = 0; i < n; i++)
		held[i]->result = lm_do(s, held[i]);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < n; i++)
		bs_complete(held[i], held[i]->result);
}

/* ---- LUs ---- */

static int lu_add_size(uint64_t lun, uint64_t size, uint32_t bsize,
		       uint32_t pbsize, bool thin, bool removable,
		       bool readonly, const char *bstype, char *err,
		       size_t errlen)
{
	struct scsi_lu_params p;

	memset(&p, 0, sizeof(p));
	snprintf(p.bstype, sizeof(p.bstype), "%s", bstype);
	snprintf(p.backing, sizeof(p.backing), "lopt-%llu",
		 (unsigned long long)lun);
	p.size = size;
	p.block_size = bsize;
	p.physical_block_size = pbsize;
	p.thin = thin;
	p.removable = removable;
	p.readonly = readonly;
	return scsi_lu_create(ht_target, lun, &p, err, errlen);
}

static int lu_add(uint64_t lun, uint32_t bsize, uint32_t pbsize, bool thin,
		  bool removable, bool readonly, const char *bstype, char *err,
		  size_t errlen)
{
	return lu_add_size(lun, LU_SIZE, bsize, pbsize, thin, removable,
			   readonly, bstype, err, errlen);
}

static int lopt_setup(void **state)
{
	char err[256];

	if (ht_setup(state))
		return -1;
	if (lu_add(LUN_THIN, 512, 4096, true, false, false, "lopt-mem", err,
		   sizeof(err)) ||
	    lu_add(LUN_REMOVE, 512, 0, false, true, false, "lopt-mem", err,
		   sizeof(err)) ||
	    lu_add(LUN_RO, 512, 0, true, false, true, "lopt-mem", err,
		   sizeof(err)) ||
	    lu_add(LUN_THIN4K, 4096, 0, true, false, false, "lopt-mem", err,
		   sizeof(err))) {
		print_error("lu_add: %s\n", err);
		return -1;
	}
	ht_clear_power_on(&ht_nexus, 0);
	ht_clear_power_on(&ht_nexus, LUN_THIN);
	ht_clear_power_on(&ht_nexus, LUN_REMOVE);
	ht_clear_power_on(&ht_nexus, LUN_RO);
	ht_clear_power_on(&ht_nexus, LUN_THIN4K);
	return 0;
}

#define lopt_test(fn)                                                          \
	cmocka_unit_test_setup_teardown(fn, lopt_setup, ht_teardown)

/* ---- command helpers ---- */

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

static void write16(uint64_t lun, uint64_t lba, uint32_t nr, const void *d)
{
	uint8_t cdb[16] = {0x8a};
	struct ht_cmd hc;

	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, nr);
	ht_exec(&hc, &ht_nexus, lun, cdb, 16, SCSI_DIR_WRITE,
		nr * ht_lu(lun)->block_size, d);
	ht_assert_good(&hc);
	ht_release(&hc);
}

static void read16(uint64_t lun, uint64_t lba, uint32_t nr, void *d)
{
	uint8_t cdb[16] = {0x88};
	struct ht_cmd hc;

	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, nr);
	ht_exec(&hc, &ht_nexus, lun, cdb, 16, SCSI_DIR_READ,
		nr * ht_lu(lun)->block_size, NULL);
	ht_assert_good(&hc);
	memcpy(d, hc.c.buf, hc.c.data_len);
	ht_release(&hc);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != v)
			return false;
	}
	return true;
}

/* UNMAP with n descriptors of (lba, nr); list_len overrides the
 * PARAMETER LIST LENGTH when not 0. */
static void unmap(struct ht_cmd *hc, uint64_t lun, const uint64_t (*d)[2],
		  unsigned n, uint8_t b1, uint16_t list_len)
{
	static uint8_t param[8 + 16 * 1100];
	uint8_t cdb[10] = {0x42, b1};
	uint16_t len = (uint16_t)(8 + 16 * n);

	memset(param, 0, sizeof(param));
	put_be16(param, (uint16_t)(len - 2));
	put_be16(param + 2, (uint16_t)(16 * n));
	for (unsigned i = 0; i < n; i++) {
		put_be64(param + 8 + 16 * i, d[i][0]);
		put_be32(param + 8 + 16 * i + 8, (uint32_t)d[i][1]);
	}
	if (list_len)
		len = list_len;
	put_be16(cdb + 7, len);
	ht_exec(hc, &ht_nexus, lun, cdb, 10, SCSI_DIR_WRITE, len, param);
}

static void ws(struct ht_cmd *hc, uint64_t lun, unsigned len, uint64_t lba,
	       uint32_t nr, uint8_t b1, uint32_t edtl, const void *block)
{
	uint8_t cdb[16] = {0};

	if (len == 10) {
		cdb[0] = 0x41;
		put_be32(cdb + 2, (uint32_t)lba);
		put_be16(cdb + 7, (uint16_t)nr);
	} else {
		cdb[0] = 0x93;
		put_be64(cdb + 2, lba);
		put_be32(cdb + 10, nr);
	}
	cdb[1] = b1;
	ht_exec(hc, &ht_nexus, lun, cdb, len,
		edtl ? SCSI_DIR_WRITE : SCSI_DIR_NONE, edtl, block);
}

static void lba_status(struct ht_cmd *hc, uint64_t lun, uint64_t lba,
		       uint32_t alloc, uint8_t type)
{
	uint8_t cdb[16] = {0x9e, 0x12};

	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, alloc);
	cdb[14] = type;
	ht_exec(hc, &ht_nexus, lun, cdb, 16, SCSI_DIR_READ, alloc, NULL);
}

/* INVALID FIELD IN PARAMETER LIST with a field pointer into the data. */
static void assert_param_field(const struct ht_cmd *hc, uint16_t byte)
{
	ht_assert_sense(hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_PARAM);
	assert_true(hc->c.sense[15] & 0x80);
	assert_false(hc->c.sense[15] & 0x40); /* C/D 0: parameter data */
	assert_int_equal(get_be16(hc->c.sense + 16), byte);
}

/* ---- scsi_lu_create ---- */

static void test_lu_params(void **state)
{
	char err[256];

	/* Not a power-of-two multiple, smaller than a block, too many
	 * blocks for the 4-bit exponent. */
	assert_int_equal(lu_add(10, 512, 1536, false, false, false, "lopt-mem",
				err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "physical block size 1536"));
	assert_int_equal(lu_add(10, 4096, 512, false, false, false, "lopt-mem",
				err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "4096-byte block size"));
	assert_int_equal(lu_add(10, 512, 512u << 16, false, false, false,
				"lopt-mem", err, sizeof(err)),
			 -EINVAL);
	/* Thin needs a store that reports holes. */
	assert_int_equal(lu_add(10, 512, 0, true, false, false, "scsi-test-mem",
				err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "thin provisioning needs"));
	/* The largest exponent is fine. */
	assert_int_equal(lu_add(10, 512, 512u << 15, false, false, false,
				"lopt-mem", err, sizeof(err)),
			 0);
	assert_int_equal(sbc_lu_lbppbe(ht_lu(10)), 15);
}

/* ---- READ CAPACITY (16), INQUIRY, VPD ---- */

static void capacity16(uint64_t lun, uint8_t *d)
{
	uint8_t cdb[16] = {0x9e, 0x10};
	struct ht_cmd hc;

	cdb[13] = 32;
	ht_exec(&hc, &ht_nexus, lun, cdb, 16, SCSI_DIR_READ, 32, NULL);
	ht_assert_good(&hc);
	memcpy(d, hc.c.buf, 32);
	ht_release(&hc);
}

static void vpd(uint64_t lun, uint8_t page, uint8_t *d)
{
	uint8_t cdb[6] = {0x12, 0x01, page, 0x01, 0x00};
	struct ht_cmd hc;

	ht_exec(&hc, &ht_nexus, lun, cdb, 6, SCSI_DIR_READ, 256, NULL);
	ht_assert_good(&hc);
	memcpy(d, hc.c.buf, hc.c.data_len);
	ht_release(&hc);
}

static void test_capacity_and_vpd(void **state)
{
	uint8_t d[256];
	uint8_t cdb[6] = {0x12, 0, 0, 0, 96};
	struct ht_cmd hc;

	capacity16(LUN_THIN, d);
	assert_int_equal(d[13], 3);    /* 8 logical blocks per physical */
	assert_int_equal(d[14], 0xc0); /* LBPME, LBPRZ */
	assert_int_equal(d[15], 0);
	capacity16(0, d);
	assert_int_equal(d[13], 0);
	assert_int_equal(d[14], 0);

	vpd(LUN_THIN, 0xb0, d);
	assert_int_equal(d[4] & 0x01, 0);		 /* WSNZ */
	assert_int_equal(get_be32(d + 20), 1u << 20);	 /* MAX UNMAP LBAS */
	assert_int_equal(get_be32(d + 24), 1024);	 /* MAX DESCRIPTORS */
	assert_int_equal(get_be32(d + 28), 8);		 /* granularity */
	assert_int_equal(get_be32(d + 32), 0x80000000u); /* UGAVALID */
	assert_int_equal(get_be64(d + 36), 0xffff);	 /* MAX WRITE SAME */
	vpd(0, 0xb0, d);
	assert_int_equal(get_be32(d + 20), 0);
	assert_int_equal(get_be32(d + 24), 0);
	assert_int_equal(get_be64(d + 36), 0xffff);

	vpd(LUN_THIN, 0xb2, d);
	assert_int_equal(get_be16(d + 2), 4);
	assert_int_equal(d[5], 0x80 | 0x40 | 0x20 | 0x04); /* LBPU..LBPRZ */
	assert_int_equal(d[6] & 0x07, 0x02);		   /* thin */
	vpd(0, 0xb2, d);
	assert_int_equal(d[5], 0);
	assert_int_equal(d[6] & 0x07, 0);

	vpd(LUN_THIN, 0xb1, d);
	assert_int_equal(d[7], 0x50); /* WABEREQ 01b, WACEREQ 01b */
	vpd(0, 0xb1, d);
	assert_int_equal(d[7], 0); /* no BLOCK/CRYPTO ERASE on a full LU */

	ht_exec(&hc, &ht_nexus, LUN_REMOVE, cdb, 6, SCSI_DIR_READ, 96, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1], 0x80); /* RMB */
	ht_release(&hc);
	ht_exec(&hc, &ht_nexus, 0, cdb, 6, SCSI_DIR_READ, 96, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1], 0);
	ht_release(&hc);
}

/* ---- UNMAP ---- */

static void test_unmap(void **state)
{
	static uint8_t data[64 * BS], back[64 * BS];
	const uint64_t one[1][2] = {{8, 16}};
	const uint64_t two[2][2] = {{0, 4}, {40, 0}};
	struct ht_cmd hc;

	fill(data, sizeof(data), 1);
	write16(LUN_THIN, 0, 64, data);
	unmap(&hc, LUN_THIN, one, 1, 0, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	read16(LUN_THIN, 0, 64, back);
	assert_memory_equal(back, data, 8 * BS);
	assert_true(all_bytes(back + 8 * BS, 16 * BS, 0)); /* LBPRZ */
	assert_memory_equal(back + 24 * BS, data + 24 * BS, 40 * BS);
	/* Several descriptors, one of them empty: one discard each. */
	lm(LUN_THIN)->discards = 0;
	unmap(&hc, LUN_THIN, two, 2, 0, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_int_equal(lm(LUN_THIN)->discards, 1);
	read16(LUN_THIN, 0, 4, back);
	assert_true(all_bytes(back, 4 * BS, 0));
	/* No parameter list, no descriptors, zero blocks at the end. */
	unmap(&hc, LUN_THIN, one, 0, 0, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	{
		const uint64_t end[1][2] = {{LU_BLOCKS, 0}};

		unmap(&hc, LUN_THIN, end, 1, 0, 0);
		ht_assert_good(&hc);
		ht_release(&hc);
	}
}

static void test_unmap_errors(void **state)
{
	static uint64_t many[1025][2];
	const uint64_t beyond[2][2] = {{0, 1}, {LU_BLOCKS - 1, 2}};
	const uint64_t big[2][2] = {{0, 1}, {2, (1u << 20)}};
	char err[256];
	const uint64_t one[1][2] = {{0, 1}};
	struct ht_cmd hc;

	/* ANCHOR: no anchored state (ANC_SUP 0). */
	unmap(&hc, LUN_THIN, one, 1, 0x01, 0);
	ht_assert_invalid_field(&hc, 1, 0);
	ht_release(&hc);
	/* A parameter list shorter than its header. */
	unmap(&hc, LUN_THIN, one, 1, 0, 7);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH);
	ht_release(&hc);
	/* More descriptors than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT. */
	unmap(&hc, LUN_THIN, (const uint64_t(*)[2])many, 1025, 0, 0);
	assert_param_field(&hc, 2);
	ht_release(&hc);
	/* A descriptor past the end: nothing is deallocated. */
	lm(LUN_THIN)->discards = 0;
	unmap(&hc, LUN_THIN, beyond, 2, 0, 0);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
	assert_int_equal(lm(LUN_THIN)->discards, 0);
	/* A fully provisioned LU has no UNMAP. */
	unmap(&hc, 0, one, 1, 0, 0);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
	ht_release(&hc);
	/* A read-only LU refuses it as a write. */
	unmap(&hc, LUN_RO, one, 1, 0, 0);
	ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	ht_release(&hc);
	/* More blocks than MAXIMUM UNMAP LBA COUNT in total (on a LU big
	 * enough for them): the second NUMBER OF LOGICAL BLOCKS. */
	assert_int_equal(lu_add_size(13, 1ull << 30, 512, 0, true, false, false,
				     "lopt-mem", err, sizeof(err)),
			 0);
	ht_clear_power_on(&ht_nexus, 13);
	unmap(&hc, 13, big, 2, 0, 0);
	assert_param_field(&hc, 8 + 16 + 8);
	ht_release(&hc);
}

/* ---- WRITE SAME ---- */

static void test_write_same_pattern(void **state)
{
	static uint8_t block[BS], back[1100 * BS];
	struct ht_cmd hc;

	fill(block, BS, 7);
	/* 1100 blocks: more than one 256 KiB piece. */
	lm(LUN_THIN)->writes = 0;
	ws(&hc, LUN_THIN, 16, 100, 1100, 0, BS, block);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_int_equal(lm(LUN_THIN)->writes, 3);
	read16(LUN_THIN, 100, 1100, back);
	for (unsigned i = 0; i < 1100; i++)
		assert_memory_equal(back + i * BS, block, BS);
	/* Zeros (or NDOB) go to the store as one WRITE ZEROES, blocks stay
	 * mapped. */
	memset(block, 0, BS);
	lm(LUN_THIN)->zeroes = 0;
	ws(&hc, LUN_THIN, 10, 100, 10, 0, BS, block);
	ht_assert_good(&hc);
	ht_release(&hc);
	ws(&hc, LUN_THIN, 16, 110, 10, 0x01, 0, NULL); /* NDOB */
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_int_equal(lm(LUN_THIN)->zeroes, 2);
	read16(LUN_THIN, 100, 20, back);
	assert_true(all_bytes(back, 20 * BS, 0));
	assert_true(lm(LUN_THIN)->mapped[105]);
	/* UNMAP: deallocated whatever the block says. */
	fill(block, BS, 9);
	ws(&hc, LUN_THIN, 10, 100, 10, 0x08, BS, block);
	ht_assert_good(&hc);
	ht_release(&hc);
	read16(LUN_THIN, 100, 10, back);
	assert_true(all_bytes(back, 10 * BS, 0));
	assert_false(lm(LUN_THIN)->mapped[105]);
	/* NUMBER OF LOGICAL BLOCKS 0: to the last block (WSNZ=0). */
	ws(&hc, LUN_THIN, 16, LU_BLOCKS - 3, 0, 0, BS, block);
	ht_assert_good(&hc);
	ht_release(&hc);
	read16(LUN_THIN, LU_BLOCKS - 3, 3, back);
	for (unsigned i = 0; i < 3; i++)
		assert_memory_equal(back + i * BS, block, BS);
	/* 0 blocks at the capacity: nothing to do. */
	ws(&hc, LUN_THIN, 16, LU_BLOCKS, 0, 0, BS, block);
	ht_assert_good(&hc);
	ht_release(&hc);
}

static void test_write_same_errors(void **state)
{
	static uint8_t block[2 * BS];
	struct ht_cmd hc;

	/* WRPROTECT, PBDATA/LBDATA, ANCHOR alone or with UNMAP. */
	ws(&hc, LUN_THIN, 10, 0, 1, 0x20, BS, block);
	ht_assert_invalid_field(&hc, 1, 7);
	ht_release(&hc);
	ws(&hc, LUN_THIN, 16, 0, 1, 0x04, BS, block);
	ht_assert_invalid_field(&hc, 1, 2);
	ht_release(&hc);
	ws(&hc, LUN_THIN, 10, 0, 1, 0x10, BS, block);
	ht_assert_invalid_field(&hc, 1, 4);
	ht_release(&hc);
	ws(&hc, LUN_THIN, 16, 0, 1, 0x18, BS, block);
	ht_assert_invalid_field(&hc, 1, 4);
	ht_release(&hc);
	/* UNMAP on a fully provisioned LU. */
	ws(&hc, 0, 10, 0, 1, 0x08, BS, block);
	ht_assert_invalid_field(&hc, 1, 3);
	ht_release(&hc);
	/* Beyond MAXIMUM WRITE SAME LENGTH, before the range. */
	ws(&hc, LUN_THIN, 16, 0, 0x10000, 0x08, BS, block);
	ht_assert_invalid_field(&hc, 10, 7);
	ht_release(&hc);
	/* The range: past the end, or a start past it with 0 blocks. */
	ws(&hc, LUN_THIN, 10, LU_BLOCKS - 1, 2, 0, BS, block);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
	ws(&hc, LUN_THIN, 16, LU_BLOCKS + 1, 0, 0, BS, block);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
	/* Exactly one block of Data-Out. */
	ws(&hc, LUN_THIN, 10, 0, 1, 0x08, BS / 2, block);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_IU);
	ht_release(&hc);
	ws(&hc, LUN_THIN, 16, 0, 1, 0x08, 2 * BS, block);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_IU);
	ht_release(&hc);
	/* Read-only: DATA PROTECT, with or without UNMAP, even without the
	 * Data-Out. */
	ws(&hc, LUN_RO, 10, 0, 1, 0x08, 0, NULL);
	ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	ht_release(&hc);
	ws(&hc, LUN_RO, 16, 0, 1, 0, BS, block);
	ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	ht_release(&hc);
}

static void test_write_same_max_length(void **state)
{
	uint8_t block[4096] = {0};
	struct ht_cmd hc;

	/* 4096-byte blocks: 256 blocks to the end, under the limit. */
	ws(&hc, LUN_THIN4K, 16, 0, 0, 0x08, 4096, block);
	ht_assert_good(&hc);
	ht_release(&hc);
	/* A LU bigger than the limit: NLB 0 up to an end further than it
	 * is INVALID FIELD, exactly the limit is fine. */
	char err[256];

	assert_int_equal(lu_add_size(12, 64ull << 20, 512, 0, false, false,
				     false, "lopt-mem", err, sizeof(err)),
			 0);
	ht_clear_power_on(&ht_nexus, 12);
	ws(&hc, 12, 16, 0, 0, 0, BS, block);
	ht_assert_invalid_field(&hc, 10, 7);
	ht_release(&hc);
	ws(&hc, 12, 16, 0, 0x10000, 0, BS, block);
	ht_assert_invalid_field(&hc, 10, 7);
	ht_release(&hc);
	ws(&hc, 12, 16, 131072 - 0xffff, 0, 0, BS, block);
	ht_assert_good(&hc);
	ht_release(&hc);
}

/* With the write cache disabled, deallocation and zeros are made stable
 * before GOOD (they carry no FUA). */
static void test_wce_off_flushes(void **state)
{
	uint8_t sense6[6] = {0x1a, 0x08, 0x08, 0, 255};
	uint8_t select6[6] = {0x15, 0x10, 0, 0, 24};
	const uint64_t one[1][2] = {{0, 8}};
	uint8_t param[24], block[BS] = {0};
	struct ht_cmd hc;

	ht_exec(&hc, &ht_nexus, LUN_THIN, sense6, 6, SCSI_DIR_READ, 255, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[4], 0x08);
	memset(param, 0, sizeof(param));
	memcpy(param + 4, hc.c.buf + 4, 20);
	ht_release(&hc);
	param[4] &= 0x7f;	/* PS */
	param[4 + 2] &= ~0x04u; /* WCE */
	ht_exec(&hc, &ht_nexus, LUN_THIN, select6, 6, SCSI_DIR_WRITE, 24,
		param);
	ht_assert_good(&hc);
	ht_release(&hc);
	lm(LUN_THIN)->flushes = 0;
	unmap(&hc, LUN_THIN, one, 1, 0, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_int_equal(lm(LUN_THIN)->flushes, 1);
	ws(&hc, LUN_THIN, 16, 0, 8, 0, BS, block);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_int_equal(lm(LUN_THIN)->flushes, 2);
	/* With it enabled (LU 4), none. */
	lm(LUN_THIN4K)->flushes = 0;
	unmap(&hc, LUN_THIN4K, one, 1, 0, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_int_equal(lm(LUN_THIN4K)->flushes, 0);
}

/* ---- GET LBA STATUS ---- */

static void test_get_lba_status(void **state)
{
	static uint8_t data[64 * BS];
	const uint64_t hole[1][2] = {{16, 8}};
	struct ht_cmd hc;
	const uint8_t *d;

	fill(data, sizeof(data), 3);
	write16(LUN_THIN, 0, 64, data);
	unmap(&hc, LUN_THIN, hole, 1, 0, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	/* From LBA 8: mapped 8-15, deallocated 16-23, mapped 24-63, then
	 * the never written rest deallocated. */
	lba_status(&hc, LUN_THIN, 8, 1024, 0);
	ht_assert_good(&hc);
	d = hc.c.buf;
	assert_int_equal(get_be32(d), 4 + 4 * 16);
	assert_int_equal(hc.c.data_len, 8 + 4 * 16);
	assert_int_equal(get_be64(d + 8), 8);
	assert_int_equal(get_be32(d + 16), 8);
	assert_int_equal(d[20], 0);
	assert_int_equal(get_be64(d + 24), 16);
	assert_int_equal(get_be32(d + 32), 8);
	assert_int_equal(d[36], 1);
	assert_int_equal(get_be64(d + 40), 24);
	assert_int_equal(get_be32(d + 48), 40);
	assert_int_equal(get_be64(d + 56), 64);
	assert_int_equal(get_be32(d + 64), LU_BLOCKS - 64);
	assert_int_equal(d[68], 1);
	ht_release(&hc);
	/* REPORT TYPE 3: deallocated extents only. */
	lba_status(&hc, LUN_THIN, 0, 1024, 3);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), 4 + 2 * 16);
	assert_int_equal(get_be64(hc.c.buf + 8), 16);
	ht_release(&hc);
	/* An allocation length for the header and one descriptor. */
	lba_status(&hc, LUN_THIN, 0, 24, 0);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 24);
	assert_int_equal(get_be32(hc.c.buf), 4 + 16);
	ht_release(&hc);
	/* A full LU maps everything. */
	lba_status(&hc, 0, 5, 1024, 0);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), 4 + 16);
	assert_int_equal(get_be64(hc.c.buf + 8), 5);
	assert_int_equal(get_be32(hc.c.buf + 16), (1024 * 1024) / BS - 5);
	assert_int_equal(hc.c.buf[20], 0);
	ht_release(&hc);
	/* Past the last block; a reserved REPORT TYPE. */
	lba_status(&hc, LUN_THIN, LU_BLOCKS, 1024, 0);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
	lba_status(&hc, LUN_THIN, 0, 1024, 5);
	ht_assert_invalid_field(&hc, 14, 7);
	ht_release(&hc);
}

/* ---- the removable medium ---- */

static const uint8_t cdb_tur[6] = {0x00};

static void ssu(struct scsi_nexus *n, uint8_t b4, uint8_t key, uint8_t asc,
		uint8_t ascq)
{
	uint8_t cdb[6] = {0x1b, 0, 0, 0, b4};

	if (key)
		ht_expect_sense(n, LUN_REMOVE, cdb, 6, key, asc, ascq);
	else
		ht_expect_good(n, LUN_REMOVE, cdb, 6);
}

static void prevent(struct scsi_nexus *n, bool on)
{
	uint8_t cdb[6] = {0x1e, 0, 0, 0, on ? 1 : 0};

	ht_expect_good(n, LUN_REMOVE, cdb, 6);
}

#define EJECT	  0x02
#define LOAD	  0x03
#define NONE	  0, 0, 0
#define PREVENTED SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_MEDIUM_REMOVAL_PREVENTED

static void test_eject_and_load(void **state)
{
	uint8_t rs[6] = {0x03, 0, 0, 0, 18};
	uint8_t read10[10] = {0x28};
	struct scsi_nexus b;
	struct ht_cmd hc;

	ht_nexus_init(&b, HT_INITIATOR "-b");
	ht_clear_power_on(&b, LUN_REMOVE);
	ssu(&ht_nexus, EJECT, NONE);
	ht_expect_sense(&ht_nexus, LUN_REMOVE, cdb_tur, 6, SCSI_SK_NOT_READY,
			SCSI_ASC_MEDIUM_NOT_PRESENT);
	put_be16(read10 + 7, 1);
	ht_exec(&hc, &ht_nexus, LUN_REMOVE, read10, 10, SCSI_DIR_READ, BS,
		NULL);
	ht_assert_sense(&hc, SCSI_SK_NOT_READY, SCSI_ASC_MEDIUM_NOT_PRESENT);
	ht_release(&hc);
	/* REQUEST SENSE tells why; INQUIRY still works. */
	ht_exec(&hc, &ht_nexus, LUN_REMOVE, rs, 6, SCSI_DIR_READ, 18, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[2] & 0x0f, SCSI_SK_NOT_READY);
	assert_int_equal(hc.c.buf[12], 0x3a);
	ht_release(&hc);
	ht_expect_good(&ht_nexus, LUN_REMOVE,
		       (const uint8_t[6]){0x12, 0, 0, 0, 36}, 6);
	/* Ejecting again is fine; power conditions leave it out. */
	ssu(&ht_nexus, EJECT, NONE);
	ssu(&ht_nexus, 0x12, NONE);
	ht_expect_sense(&b, LUN_REMOVE, cdb_tur, 6, SCSI_SK_NOT_READY,
			SCSI_ASC_MEDIUM_NOT_PRESENT);
	/* Loading tells the other nexus the medium may have changed. */
	ssu(&ht_nexus, LOAD, NONE);
	ht_expect_good(&ht_nexus, LUN_REMOVE, cdb_tur, 6);
	ht_expect_sense(&b, LUN_REMOVE, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_MEDIUM_MAY_HAVE_CHANGED);
	ht_expect_good(&b, LUN_REMOVE, cdb_tur, 6);
	ht_nexus_release(&b);
	/* A disk whose medium stays: LOEJ is refused, power conditions
	 * (reserved ones included) are not. */
	ht_expect_invalid_field(&ht_nexus, 0,
				(const uint8_t[6]){0x1b, 0, 0, 0, EJECT}, 6,
				SCSI_DIR_NONE, 0, 4, 1);
	ht_expect_good(&ht_nexus, 0, (const uint8_t[6]){0x1b, 0, 0, 0, 0xc2},
		       6);
}

static void test_prevent_allow(void **state)
{
	struct scsi_nexus b;
	uint8_t raw[8];

	ht_nexus_init(&b, HT_INITIATOR "-b");
	ht_clear_power_on(&b, LUN_REMOVE);
	/* Per I_T nexus: either one prevents removal for both. */
	prevent(&ht_nexus, true);
	prevent(&ht_nexus, true); /* twice counts once */
	ssu(&ht_nexus, EJECT, PREVENTED);
	ssu(&b, EJECT, PREVENTED);
	ssu(&b, LOAD, PREVENTED);
	prevent(&b, true);
	prevent(&ht_nexus, false);
	ssu(&ht_nexus, EJECT, PREVENTED);
	/* I_T nexus loss ends b's prevention. */
	ht_nexus_release(&b);
	ssu(&ht_nexus, EJECT, NONE);
	ssu(&ht_nexus, LOAD, NONE);
	/* A LU reset ends every prevention (UA for all). */
	prevent(&ht_nexus, true);
	scsi_lun_encode(LUN_REMOVE, raw);
	scsi_lu_reset_by(&ht_nexus, raw);
	ht_expect_sense(&ht_nexus, LUN_REMOVE, cdb_tur, 6,
			SCSI_SK_UNIT_ATTENTION, SCSI_ASC_BUS_DEVICE_RESET);
	ssu(&ht_nexus, EJECT, NONE);
	/* So does a target reset. */
	ssu(&ht_nexus, LOAD, NONE);
	prevent(&ht_nexus, true);
	scsi_target_reset_by(&ht_nexus);
	ht_expect_sense(&ht_nexus, LUN_REMOVE, cdb_tur, 6,
			SCSI_SK_UNIT_ATTENTION, SCSI_ASC_BUS_DEVICE_RESET);
	ssu(&ht_nexus, EJECT, NONE);
	ssu(&ht_nexus, LOAD, NONE);
	ht_expect_sense(&ht_nexus, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET);
	/* PREVENT 10b/11b are obsolete; a fixed disk has no such command. */
	ht_expect_invalid_field(&ht_nexus, LUN_REMOVE,
				(const uint8_t[6]){0x1e, 0, 0, 0, 2}, 6,
				SCSI_DIR_NONE, 0, 4, 1);
	ht_expect_sense(&ht_nexus, 0, (const uint8_t[6]){0x1e, 0, 0, 0, 1}, 6,
			SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
}

/* ---- SANITIZE ---- */

static void sanitize(struct ht_cmd *hc, uint64_t lun, uint8_t b1,
		     const uint8_t *param, uint16_t len)
{
	uint8_t cdb[10] = {0x48, b1};

	put_be16(cdb + 7, len);
	ht_exec(hc, &ht_nexus, lun, cdb, 10,
		len ? SCSI_DIR_WRITE : SCSI_DIR_NONE, len, param);
}

static void test_sanitize_overwrite(void **state)
{
	static uint8_t param[4 + BS], back[LU_BLOCKS * BS / 4];
	struct ht_cmd hc;

	/* Two passes with INVERT, a 3-byte pattern: the last pass (the
	 * second) is inverted. */
	param[0] = 0x80 | 2;
	put_be16(param + 2, 3);
	param[4] = 0x11;
	param[5] = 0x22;
	param[6] = 0x33;
	sanitize(&hc, LUN_THIN, 0x01, param, 7);
	ht_assert_good(&hc);
	ht_release(&hc);
	read16(LUN_THIN, 0, LU_BLOCKS / 4, back);
	for (unsigned i = 0; i < sizeof(back); i++) {
		static const uint8_t inverted[3] = {0xee, 0xdd, 0xcc};

		if (back[i] != inverted[(i % BS) % 3])
			fail_msg("byte %u is %02x", i, back[i]);
	}
	/* Parameter list checks. */
	sanitize(&hc, LUN_THIN, 0x01, param, 4);
	ht_assert_invalid_field(&hc, 7, 7);
	ht_release(&hc);
	sanitize(&hc, LUN_THIN, 0x01, param, 4 + BS + 1);
	ht_assert_invalid_field(&hc, 7, 7);
	ht_release(&hc);
	param[0] = 0;
	sanitize(&hc, LUN_THIN, 0x01, param, 7);
	assert_param_field(&hc, 0);
	ht_release(&hc);
	param[0] = 1;
	put_be16(param + 2, 0);
	sanitize(&hc, LUN_THIN, 0x01, param, 7);
	assert_param_field(&hc, 2);
	ht_release(&hc);
	put_be16(param + 2, BS + 1);
	sanitize(&hc, LUN_THIN, 0x01, param, 4 + BS);
	assert_param_field(&hc, 2);
	ht_release(&hc);
	put_be16(param + 2, 8);
	sanitize(&hc, LUN_THIN, 0x01, param, 7);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH);
	ht_release(&hc);
	/* Reserved bits and bytes of the CDB, service actions. */
	{
		uint8_t cdb[10] = {0x48, 0x41};

		ht_expect_invalid_field(&ht_nexus, LUN_THIN, cdb, 10,
					SCSI_DIR_NONE, 0, 1, 6);
		cdb[1] = 0x02;
		cdb[4] = 1;
		ht_expect_invalid_field(&ht_nexus, LUN_THIN, cdb, 10,
					SCSI_DIR_NONE, 0, 4, 7);
		cdb[4] = 0;
		cdb[1] = 0x04;
		ht_expect_invalid_field(&ht_nexus, LUN_THIN, cdb, 10,
					SCSI_DIR_NONE, 0, 1, 4);
		cdb[1] = 0x02;
		put_be16(cdb + 7, 8);
		ht_expect_invalid_field(&ht_nexus, LUN_THIN, cdb, 10,
					SCSI_DIR_WRITE, 8, 7, 7);
		/* BLOCK ERASE is for thin LUs only. */
		put_be16(cdb + 7, 0);
		ht_expect_invalid_field(&ht_nexus, 0, cdb, 10, SCSI_DIR_NONE, 0,
					1, 4);
	}
	/* Read-only (a thin LU: CRYPTOGRAPHIC ERASE exists there). */
	sanitize(&hc, LUN_RO, 0x03, NULL, 0);
	ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	ht_release(&hc);
}

static void test_sanitize_erase(void **state)
{
	static uint8_t data[16 * BS], back[16 * BS];
	struct ht_cmd hc;

	/* BLOCK ERASE deallocates everything. */
	fill(data, sizeof(data), 5);
	write16(LUN_THIN, 0, 16, data);
	sanitize(&hc, LUN_THIN, 0x02, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	read16(LUN_THIN, 0, 16, back);
	assert_true(all_bytes(back, sizeof(back), 0));
	lba_status(&hc, LUN_THIN, 0, 64, 0);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), 4 + 16);
	assert_int_equal(get_be32(hc.c.buf + 16), LU_BLOCKS);
	assert_int_equal(hc.c.buf[20], 1);
	ht_release(&hc);
	/* CRYPTOGRAPHIC ERASE: deallocation too; a full LU has neither. */
	write16(LUN_THIN, 0, 16, data);
	sanitize(&hc, LUN_THIN, 0x03, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	read16(LUN_THIN, 0, 16, back);
	assert_true(all_bytes(back, sizeof(back), 0));
	assert_false(lm(LUN_THIN)->mapped[0]);
	sanitize(&hc, LUN_REMOVE, 0x03, NULL, 0);
	ht_assert_invalid_field(&hc, 1, 4);
	ht_release(&hc);
	/* EXIT FAILURE MODE outside the failure mode: nothing to do. */
	sanitize(&hc, LUN_THIN, 0x1f, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
}

static void test_sanitize_in_progress(void **state)
{
	uint8_t rs[6] = {0x03, 0, 0, 0, 18};
	struct lm_store *s = lm(LUN_THIN);
	struct ht_cmd hc, tur;

	/* IMMED: GOOD at once; then NOT READY, SANITIZE IN PROGRESS with
	 * a progress indication while the store holds the erase. */
	s->hold = true;
	sanitize(&hc, LUN_THIN, 0x80 | 0x02, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	for (int i = 0; i < 1000 && !s->nr_held; i++)
		usleep(1000);
	assert_int_equal(s->nr_held, 1);
	ht_exec(&tur, &ht_nexus, LUN_THIN, cdb_tur, 6, SCSI_DIR_NONE, 0, NULL);
	ht_assert_sense(&tur, SCSI_SK_NOT_READY, SCSI_ASC_SANITIZE_IN_PROGRESS);
	assert_int_equal(tur.c.sense[15], 0x80); /* SKSV, progress */
	ht_release(&tur);
	ht_exec(&hc, &ht_nexus, LUN_THIN, rs, 6, SCSI_DIR_READ, 18, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[2] & 0x0f, SCSI_SK_NOT_READY);
	assert_int_equal(hc.c.buf[12], 0x04);
	assert_int_equal(hc.c.buf[13], 0x1b);
	ht_release(&hc);
	/* Another SANITIZE, and START STOP UNIT, wait for it too; INQUIRY
	 * does not. */
	sanitize(&hc, LUN_THIN, 0x03, NULL, 0);
	ht_assert_sense(&hc, SCSI_SK_NOT_READY, SCSI_ASC_SANITIZE_IN_PROGRESS);
	ht_release(&hc);
	ht_expect_sense(&ht_nexus, LUN_THIN,
			(const uint8_t[6]){0x1b, 0, 0, 0, 1}, 6,
			SCSI_SK_NOT_READY, SCSI_ASC_SANITIZE_IN_PROGRESS);
	ht_expect_good(&ht_nexus, LUN_THIN,
		       (const uint8_t[6]){0x12, 0, 0, 0, 36}, 6);
	lm_release(s);
	for (int i = 0; i < 1000; i++) {
		ht_exec(&tur, &ht_nexus, LUN_THIN, cdb_tur, 6, SCSI_DIR_NONE, 0,
			NULL);
		if (tur.c.status == SAM_STAT_GOOD)
			break;
		ht_release(&tur);
		usleep(1000);
	}
	ht_assert_good(&tur);
	ht_release(&tur);
	/* Without IMMED the command ends with the operation. */
	s->hold = true;
	ht_cmd_init(&hc, &ht_nexus, LUN_THIN, (const uint8_t[10]){0x48, 0x02},
		    10, SCSI_DIR_NONE, 0, NULL);
	ht_start(&hc);
	for (int i = 0; i < 1000 && !s->nr_held; i++)
		usleep(1000);
	assert_false(hc.finished);
	lm_release(s);
	ht_wait(&hc);
	ht_assert_good(&hc);
	ht_release(&hc);
}

static void test_sanitize_failure_mode(void **state)
{
	uint8_t read10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1};
	struct ht_cmd hc;

	/* A failed erase: MEDIUM ERROR, and the failure mode after it. */
	lm(LUN_THIN)->fail_next = -EIO;
	sanitize(&hc, LUN_THIN, 0x02, NULL, 0); /* AUSE 0 */
	ht_assert_sense(&hc, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_SANITIZE_FAILED);
	ht_release(&hc);
	ht_exec(&hc, &ht_nexus, LUN_THIN, read10, 10, SCSI_DIR_READ, BS, NULL);
	ht_assert_sense(&hc, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_SANITIZE_FAILED);
	ht_release(&hc);
	/* Without AUSE there is no unrestricted exit. */
	sanitize(&hc, LUN_THIN, 0x1f, NULL, 0);
	ht_assert_invalid_field(&hc, 1, 4);
	ht_release(&hc);
	/* A sanitize that succeeds leaves the failure mode. */
	sanitize(&hc, LUN_THIN, 0x02, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	ht_expect_good(&ht_nexus, LUN_THIN, cdb_tur, 6);
	/* With AUSE, EXIT FAILURE MODE does. */
	lm(LUN_THIN)->fail_next = -EIO;
	sanitize(&hc, LUN_THIN, 0x20 | 0x02, NULL, 0);
	ht_assert_sense(&hc, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_SANITIZE_FAILED);
	ht_release(&hc);
	ht_expect_sense(&ht_nexus, LUN_THIN, cdb_tur, 6, SCSI_SK_MEDIUM_ERROR,
			SCSI_ASC_SANITIZE_FAILED);
	sanitize(&hc, LUN_THIN, 0x1f, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	ht_expect_good(&ht_nexus, LUN_THIN, cdb_tur, 6);
}

/* The usage data of the rows this file adds, on the LUs that support
 * them: a bit the device server ignores changes nothing. */
static void test_usage_bits(void **state)
{
	static const struct {
		uint64_t lun;
		uint8_t cdb[16];
	} base[] = {
	    {LUN_THIN, {0x42}},			 /* UNMAP */
	    {LUN_REMOVE, {0x1e}},		 /* PREVENT */
	    {LUN_REMOVE, {0x1b, 0, 0, 0, 0x01}}, /* SSU */
	    {LUN_THIN, {0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64}},
	};
	static const struct scsi_op *const ops[] = {
	    &sbc_op_unmap, &sbc_op_prevent_allow, &sbc_op_start_stop,
	    &sbc_op_get_lba_status};

	for (unsigned r = 0; r < 4; r++) {
		const struct scsi_op *op = ops[r];
		struct ht_cmd want, got;

		ht_exec(&want, &ht_nexus, base[r].lun, base[r].cdb, op->cdb_len,
			op->dir == SCSI_DIR_READ ? SCSI_DIR_READ
						 : SCSI_DIR_NONE,
			op->dir == SCSI_DIR_READ ? 64 : 0, NULL);
		ht_assert_good(&want);
		for (unsigned byte = 1; byte < op->cdb_len; byte++) {
			for (unsigned bit = 0; bit < 8; bit++) {
				uint8_t cdb[16];

				if ((op->usage[byte] >> bit) & 1 ||
				    (byte == 1 && (op->flags & SCSI_OP_SA) &&
				     bit < 5))
					continue;
				memcpy(cdb, base[r].cdb, 16);
				cdb[byte] |= (uint8_t)(1u << bit);
				ht_exec(
				    &got, &ht_nexus, base[r].lun, cdb,
				    op->cdb_len,
				    op->dir == SCSI_DIR_READ ? SCSI_DIR_READ
							     : SCSI_DIR_NONE,
				    op->dir == SCSI_DIR_READ ? 64 : 0, NULL);
				if (got.c.status != want.c.status ||
				    got.c.data_len != want.c.data_len)
					fail_msg("%s: byte %u bit %u is 0 in "
						 "the usage data but matters",
						 op->name, byte, bit);
				ht_release(&got);
			}
		}
		ht_release(&want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    lopt_test(test_lu_params),
	    lopt_test(test_capacity_and_vpd),
	    lopt_test(test_unmap),
	    lopt_test(test_unmap_errors),
	    lopt_test(test_write_same_pattern),
	    lopt_test(test_write_same_errors),
	    lopt_test(test_write_same_max_length),
	    lopt_test(test_wce_off_flushes),
	    lopt_test(test_get_lba_status),
	    lopt_test(test_eject_and_load),
	    lopt_test(test_prevent_allow),
	    lopt_test(test_sanitize_overwrite),
	    lopt_test(test_sanitize_erase),
	    lopt_test(test_sanitize_in_progress),
	    lopt_test(test_sanitize_failure_mode),
	    lopt_test(test_usage_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
