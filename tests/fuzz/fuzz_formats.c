/*
 * fuzz_formats: coverage-guided fuzzing (libFuzzer) of what lunard reads
 * from somewhere other than an initiator's connection, each a parser of
 * its own:
 *   0  a tape cartridge file (docs/tape-format.md, ssc_format.c): the
 *      two header slots and the chain of records lunard scans at load,
 *      data CRCs included, with the rest of the file reading as zeros
 *      (a sparse cartridge);
 *   1  a media changer's state file (smc_state.c): JSON that must become
 *      a library or a precise error;
 *   2  what an iSNS server sends (isns_pdu.c): PDUs back to back, each
 *      response's status and its attributes;
 *   3  a tgt targets.conf for lunarctl import-tgt (tools/tgt_conf.c):
 *      read from a memfd, then mapped to lunar's configuration.
 * The first byte of an input picks the parser; the rest is the file or
 * the byte stream. Any sanitizer report, crash, leak or hang fails.
 *
 * Built by `make fuzz-build` with fuzz_iscsi; tests/fuzz/run.sh runs both.
 * Its seeds are written by this program itself, with lunar's own encoders
 * (FUZZ_FORMATS_SEEDS=DIR: write them there and exit): a cartridge with
 * data blocks, filemarks and its EOD, one torn at the end, a changer
 * library, iSNS responses to a registration and a query, and a
 * targets.conf of the shapes tgt's documentation shows.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iscsi/isns.h"
#include "scsi/smc.h"
#include "scsi/ssc_format.h"
#include "tgt_conf.h"

/* A capacity larger than any input, so the scan runs off the data into
 * zeros, as it does into the sparse rest of a real cartridge. */
#define FUZZ_CART_CAPACITY (256u << 10)

struct image {
	const uint8_t *p;
	size_t n;
};

static int image_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct image *im = ctx;
	size_t have = 0;

	if (off > FUZZ_CART_CAPACITY || len > FUZZ_CART_CAPACITY - off)
		return -EIO;
	if (off < im->n)
		have = im->n - off < len ? im->n - off : len;
	if (have)
		memcpy(buf, im->p + off, have);
	memset((uint8_t *)buf + have, 0, len - have);
	return 0;
}

static void fuzz_cartridge(const uint8_t *p, size_t n)
{
	struct image im = {.p = p, .n = n};
	struct ssc_fmt_header h;
	struct ssc_index ix;
	unsigned slot;

	if (n >= 2 * SSC_FMT_SLOT_LEN)
		(void)ssc_fmt_header_pick(p, &h, &slot);
	memset(&ix, 0, sizeof(ix));
	if (ssc_fmt_scan(image_read, &im, FUZZ_CART_CAPACITY, 1u << 20, &ix) ==
	    0) {
		/* What a load does next with the chain it found. */
		for (uint64_t i = 0; i <= ix.nr; i++)
			(void)ssc_index_off(&ix, i);
		ssc_index_free(&ix);
	}
}

static void fuzz_changer_state(const uint8_t *p, size_t n)
{
	json_t *root = json_loadb((const char *)p, n, 0, NULL);
	struct smc_lib lib;
	char err[512];

	if (!root)
		return;
	memset(&lib, 0, sizeof(lib));
	if (smc_lib_from_json(root, &lib, err, sizeof(err)) == 0)
		smc_lib_free(&lib);
	json_decref(root);
}

static void fuzz_isns(const uint8_t *p, size_t n)
{
	size_t at = 0;

	while (at < n) {
		struct isns_pdu pdu;
		struct isns_tlv tlv;
		uint32_t status;
		size_t off = 4;

		if (isns_pdu_parse(p + at, n - at, &pdu) < 0)
			return;
		if (isns_rsp_status(&pdu, &status) == 0)
			(void)isns_status_name(status);
		while (isns_tlv_next(pdu.payload, pdu.length, &off, &tlv) > 0)
			if (tlv.len)
				(void)tlv.value[tlv.len - 1];
		at += ISNS_HDR_LEN + (size_t)pdu.length;
	}
}

static void fuzz_tgt_conf(const uint8_t *p, size_t n)
{
	int fd = memfd_create("targets.conf", MFD_CLOEXEC);
	char path[64], err[512];
	struct tgt_conf *c = NULL;
	unsigned issues = 0;
	json_t *out = NULL;

	if (fd < 0)
		abort();
	if (n && write(fd, p, n) != (ssize_t)n)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* Includes under /etc/tgt are looked for in an empty directory. */
	if (tgt_conf_parse(path, "/nonexistent", &c, err, sizeof(err)) == 0) {
		if (tgt_conf_to_json(c, &out, NULL, &issues, err,
				     sizeof(err)) == 0)
			json_decref(out);
		tgt_conf_free(c);
	}
	close(fd);
}

/* ---- seeds ---- */

static void seed_save(const char *dir, const char *name, uint8_t kind,
		      const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/format-%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fputc(kind, f) == EOF || fwrite(p, 1, n, f) != n ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Header slots, then from SSC_FMT_DATA_START: blocks of 100 and 3000
 * bytes, a filemark, a block of 10 and the EOD record. */
static void seed_cartridge(const char *dir)
{
	static uint8_t img[SSC_FMT_DATA_START + 8192];
	static uint8_t data[3000];
	struct ssc_fmt_header h = {.seq = 1,
				   .capacity = FUZZ_CART_CAPACITY,
				   .early_warning = 65536,
				   .gen_floor = 1,
				   .barcode = "SEED01L8"};
	uint64_t gen = 1, at = SSC_FMT_DATA_START;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);
	ssc_fmt_header_encode(&h, img);
	ssc_fmt_header_encode(&h, img + SSC_FMT_SLOT_LEN);
	/* Each build ends in an EOD record the next one overwrites. */
	at += ssc_fmt_build(img + at, SSC_REC_DATA, data, 100, 1, 0, &gen) -
	      SSC_REC_HDR_LEN;
	at += ssc_fmt_build(img + at, SSC_REC_DATA, data, 3000, 1, 1, &gen) -
	      SSC_REC_HDR_LEN;
	at += ssc_fmt_build(img + at, SSC_REC_FILEMARK, NULL, 0, 1, 2, &gen) -
	      SSC_REC_HDR_LEN;
	at += ssc_fmt_build(img + at, SSC_REC_DATA, data, 10, 1, 3, &gen);
	seed_save(dir, "cartridge", 0, img, at);
	/* Torn: the last block and its EOD half written. */
	seed_save(dir, "cartridge-torn", 0, img, at - SSC_REC_HDR_LEN - 5);
}

static void seed_changer(const char *dir)
{
	static const char lib[] =
	    "{\"format\": \"lunar-changer\", \"version\": 1,\n"
	    " \"drives\": [{\"lun\": 1, \"cartridge\": {\"barcode\": "
	    "\"A00001L8\", \"file\": \"/srv/a.tape\"}, \"source\": 4096}],\n"
	    " \"import_export\": [{\"cartridge\": null, \"operator\": true}],\n"
	    " \"slots\": [{\"cartridge\": null},\n"
	    "  {\"cartridge\": {\"barcode\": \"A00002L8\", \"file\": "
	    "\"/srv/b.tape\"}}]}\n";

	seed_save(dir, "changer", 1, lib, sizeof(lib) - 1);
}

/* One response PDU: header, status, then attributes. */
static size_t isns_rsp(uint8_t *out, uint16_t function, uint16_t xid,
		       uint32_t status, const uint8_t *attrs, size_t alen)
{
	uint16_t len = (uint16_t)(4 + alen);
	uint8_t h[ISNS_HDR_LEN] = {
	    0,
	    1,
	    (uint8_t)(function >> 8),
	    (uint8_t)function,
	    (uint8_t)(len >> 8),
	    (uint8_t)len,
	    (ISNS_FLAG_SERVER | ISNS_FLAG_LAST | ISNS_FLAG_FIRST) >> 8,
	    0,
	    (uint8_t)(xid >> 8),
	    (uint8_t)xid,
	    0,
	    0};

	memcpy(out, h, sizeof(h));
	for (int i = 0; i < 4; i++)
		out[ISNS_HDR_LEN + i] = (uint8_t)(status >> (24 - 8 * i));
	if (alen)
		memcpy(out + ISNS_HDR_LEN + 4, attrs, alen);
	return ISNS_HDR_LEN + 4 + alen;
}

static void seed_isns(const char *dir)
{
	/* Entity ID "lunar:h", registration period 900 s; then a query's
	 * answer naming a target. */
	static const uint8_t reg[] = {
	    0,	 0, 0, 1, 0, 0, 0, 8, 'l', 'u', 'n', 'a', 'r', ':',
	    'h', 0, 0, 0, 0, 6, 0, 0, 0,   4,	0,   0,	  3,   0x84};
	static const uint8_t qry[] = {0,   0,	0,   32,  0,   0,   0,	 12,
				      'i', 'q', 'n', '.', '2', '0', '2', '6',
				      '-', '1', 0,   0,	  0,   0,   0,	 33,
				      0,   0,	0,   4,	  0,   0,   0,	 1};
	uint8_t buf[256];
	size_t n = 0;

	n += isns_rsp(buf + n, ISNS_FUNC_RESPONSE | ISNS_FUNC_DEV_ATTR_REG, 1,
		      0, reg, sizeof(reg));
	n += isns_rsp(buf + n, ISNS_FUNC_RESPONSE | ISNS_FUNC_DEV_ATTR_QRY, 2,
		      0, qry, sizeof(qry));
	n += isns_rsp(buf + n, ISNS_FUNC_RESPONSE | ISNS_FUNC_DEV_DEREG, 3, 3,
		      NULL, 0);
	seed_save(dir, "isns", 2, buf, n);
}

static void seed_tgt_conf(const char *dir)
{
	static const char conf[] =
	    "# tgt-admin style\n"
	    "default-driver iscsi\n"
	    "<target iqn.2026-12.org.example:store.disks>\n"
	    "    backing-store /srv/a.img\n"
	    "    <backing-store /srv/b.img>\n"
	    "        lun 3\n"
	    "        readonly 1\n"
	    "        scsi_sn B0003\n"
	    "        block-size 4096\n"
	    "        lbppbe 1\n"
	    "    </backing-store>\n"
	    "    direct-store /dev/sdz\n"
	    "    bs-type aio\n"
	    "    initiator-address 192.168.1.0/24\n"
	    "    initiator-name iqn.2026-12.org.example:host1\n"
	    "    incominguser alice secretsecret12\n"
	    "    outgoinguser target tsecretsecret\n"
	    "    MaxRecvDataSegmentLength 65536\n"
	    "</target>\n"
	    "<target iqn.2026-12.org.example:media.cd>\n"
	    "    <backing-store /srv/install.iso>\n"
	    "        device-type cd\n"
	    "    </backing-store>\n"
	    "    write-cache off\n"
	    "    vendor_id \"ACME \\# 1\"\n"
	    "</target>\n";

	seed_save(dir, "tgt-conf", 3, conf, sizeof(conf) - 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_FORMATS_SEEDS");

	(void)argc;
	(void)argv;
	if (!dir)
		return 0;
	seed_cartridge(dir);
	seed_changer(dir);
	seed_isns(dir);
	seed_tgt_conf(dir);
	exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_cartridge(data + 1, size - 1);
		break;
	case 1:
		fuzz_changer_state(data + 1, size - 1);
		break;
	case 2:
		fuzz_isns(data + 1, size - 1);
		break;
	default:
		fuzz_tgt_conf(data + 1, size - 1);
		break;
	}
	return 0;
}
