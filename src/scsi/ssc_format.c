/*
 * The on-disk cartridge format of the tape device type: encoding and
 * decoding of the header slots and record headers, the chain scan that
 * rebuilds the in-memory index of logical objects when a cartridge is
 * loaded, and the creation of an empty cartridge. The layout, its
 * invariants and the crash rules are in docs/tape-format.md; this file
 * is their one implementation. Pure code (files and CRC32C only), so
 * that unit tests and lunarctl use it as lunard does.
 */
#include "scsi/ssc_format.h"

#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Header slot layout (little-endian). */
#define SLOT_MAGIC     0  /* 8 bytes */
#define SLOT_VERSION   8  /* u32 */
#define SLOT_LEN       12 /* u32: bytes covered by the CRC */
#define SLOT_SEQ       16 /* u64 */
#define SLOT_CAPACITY  24 /* u64 */
#define SLOT_EW	       32 /* u64 */
#define SLOT_CREATED   40 /* u64 */
#define SLOT_GEN_FLOOR 48 /* u64 */
#define SLOT_BARCODE   56 /* 32 bytes, NUL padded */
#define SLOT_CRC       88 /* u32 CRC32C of bytes 0..87 */
#define SLOT_USED      92

/* Record header layout (little-endian). */
#define REC_MAGIC    0	/* u32 */
#define REC_TYPE     4	/* u8, then 3 reserved bytes */
#define REC_LEN	     8	/* u32 */
#define REC_DATA_CRC 12 /* u32 */
#define REC_GEN	     16 /* u64 */
#define REC_OBJECT   24 /* u64 */
#define REC_RSVD     32 /* u32, zero */
#define REC_HDR_CRC  36 /* u32 CRC32C of bytes 0..35 */

static void le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t le32_get(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t le64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint32_t ssc_crc32c(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t state = 0xffffffffu;

	while (n) {
		size_t k = n > INT_MAX ? (size_t)INT_MAX : n;

		state = crc32_iscsi((unsigned char *)b, (int)k, state);
		b += k;
		n -= k;
	}
	return ~state;
}

/* ---- header slots ---- */

void ssc_fmt_header_encode(const struct ssc_fmt_header *h,
			   uint8_t out[SSC_FMT_SLOT_LEN])
{
	memset(out, 0, SSC_FMT_SLOT_LEN);
	memcpy(out + SLOT_MAGIC, SSC_FMT_MAGIC, 8);
	le32_put(out + SLOT_VERSION, SSC_FMT_VERSION);
	le32_put(out + SLOT_LEN, SLOT_CRC);
	le64_put(out + SLOT_SEQ, h->seq);
	le64_put(out + SLOT_CAPACITY, h->capacity);
	le64_put(out + SLOT_EW, h->early_warning);
	le64_put(out + SLOT_CREATED, h->created);
	le64_put(out + SLOT_GEN_FLOOR, h->gen_floor);
	memcpy(out + SLOT_BARCODE, h->barcode,
	       strnlen(h->barcode, SSC_FMT_BARCODE));
	le32_put(out + SLOT_CRC, ssc_crc32c(out, SLOT_CRC));
}

int ssc_fmt_header_decode(const uint8_t in[SSC_FMT_SLOT_LEN],
			  struct ssc_fmt_header *h)
{
	uint32_t covered;

	if (memcmp(in + SLOT_MAGIC, SSC_FMT_MAGIC, 8))
		return -EINVAL;
	/* A later version may cover more bytes; the CRC says where. */
	covered = le32_get(in + SLOT_LEN);
	if (covered < SLOT_CRC || covered > SSC_FMT_SLOT_LEN - 4 ||
	    le32_get(in + covered) != ssc_crc32c(in, covered))
		return -EINVAL;
	if (le32_get(in + SLOT_VERSION) != SSC_FMT_VERSION)
		return -EPROTONOSUPPORT;
	memset(h, 0, sizeof(*h));
	h->seq = le64_get(in + SLOT_SEQ);
	h->capacity = le64_get(in + SLOT_CAPACITY);
	h->early_warning = le64_get(in + SLOT_EW);
	h->created = le64_get(in + SLOT_CREATED);
	h->gen_floor = le64_get(in + SLOT_GEN_FLOOR);
	memcpy(h->barcode, in + SLOT_BARCODE, SSC_FMT_BARCODE);
	h->barcode[SSC_FMT_BARCODE] = '\0';
	if (h->capacity < SSC_FMT_MIN_CAPACITY ||
	    h->early_warning >= h->capacity - SSC_FMT_DATA_START)
		return -EINVAL;
	return 0;
}

int ssc_fmt_header_pick(const uint8_t slots[2 * SSC_FMT_SLOT_LEN],
			struct ssc_fmt_header *h, unsigned *slot)
{
	struct ssc_fmt_header a, b;
	int ra = ssc_fmt_header_decode(slots, &a);
	int rb = ssc_fmt_header_decode(slots + SSC_FMT_SLOT_LEN, &b);

	if (ra && rb)
		return ra;
	if (!ra && (rb || a.seq >= b.seq)) {
		*h = a;
		*slot = 0;
	} else {
		*h = b;
		*slot = 1;
	}
	return 0;
}

int ssc_fmt_probe(const char *path)
{
	uint8_t slots[2 * SSC_FMT_SLOT_LEN];
	struct ssc_fmt_header h;
	unsigned slot;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (pread(fd, slots, sizeof(slots), 0) != (ssize_t)sizeof(slots))
		rc = -EINVAL;
	else
		rc = ssc_fmt_header_pick(slots, &h, &slot);
	if (rc == 0 && (uint64_t)st.st_size < h.capacity)
		rc = -EINVAL;
	close(fd);
	return rc;
}

uint64_t ssc_fmt_default_ew(uint64_t capacity)
{
	uint64_t ew = capacity / 20;

	if (ew < 4096)
		ew = 4096;
	if (ew > (1ull << 30))
		ew = 1ull << 30;
	return ew;
}

uint64_t ssc_fmt_next_floor(const struct ssc_fmt_header *h,
			    const struct ssc_index *ix)
{
	uint64_t floor = h->gen_floor + SSC_GEN_EPOCH;

	return ix->max_gen >= floor ? ix->max_gen + 1 : floor;
}

/* ---- record headers ---- */

void ssc_rec_encode(const struct ssc_rec_hdr *r, uint8_t out[SSC_REC_HDR_LEN])
{
	memset(out, 0, SSC_REC_HDR_LEN);
	le32_put(out + REC_MAGIC, SSC_REC_MAGIC);
	out[REC_TYPE] = r->type;
	le32_put(out + REC_LEN, r->len);
	le32_put(out + REC_DATA_CRC, r->data_crc);
	le64_put(out + REC_GEN, r->gen);
	le64_put(out + REC_OBJECT, r->object);
	le32_put(out + REC_HDR_CRC, ssc_crc32c(out, REC_HDR_CRC));
}

int ssc_rec_decode(const uint8_t in[SSC_REC_HDR_LEN], struct ssc_rec_hdr *r)
{
	if (le32_get(in + REC_MAGIC) != SSC_REC_MAGIC ||
	    le32_get(in + REC_HDR_CRC) != ssc_crc32c(in, REC_HDR_CRC))
		return -EINVAL;
	r->type = in[REC_TYPE];
	r->len = le32_get(in + REC_LEN);
	r->data_crc = le32_get(in + REC_DATA_CRC);
	r->gen = le64_get(in + REC_GEN);
	r->object = le64_get(in + REC_OBJECT);
	if (r->type < SSC_REC_DATA || r->type > SSC_REC_EOD ||
	    (r->type != SSC_REC_DATA && r->len) || r->len > SSC_REC_MAX_LEN)
		return -EINVAL;
	return 0;
}

size_t ssc_fmt_build(uint8_t *out, enum ssc_rec_type type, const uint8_t *data,
		     uint32_t len, uint64_t n, uint64_t object, uint64_t *gen)
{
	struct ssc_rec_hdr r = {.type = (uint8_t)type};
	size_t at = 0;

	if (type != SSC_REC_DATA)
		len = 0;
	for (uint64_t i = 0; i < n; i++) {
		r.len = len;
		r.data_crc = len ? ssc_crc32c(data + i * len, len) : 0;
		r.gen = (*gen)++;
		r.object = object + i;
		ssc_rec_encode(&r, out + at);
		if (len)
			memcpy(out + at + SSC_REC_HDR_LEN, data + i * len, len);
		at += SSC_REC_HDR_LEN + len;
	}
	r = (struct ssc_rec_hdr){
	    .type = SSC_REC_EOD, .gen = (*gen)++, .object = object + n};
	ssc_rec_encode(&r, out + at);
	return at + SSC_REC_HDR_LEN;
}

/* ---- the index ---- */

void ssc_index_free(struct ssc_index *ix)
{
	free(ix->obj);
	memset(ix, 0, sizeof(*ix));
}

int ssc_index_reserve(struct ssc_index *ix, uint64_t n)
{
	uint64_t want = ix->nr + n, cap = ix->cap ? ix->cap : 64;
	struct ssc_obj *o;

	if (want <= ix->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	o = realloc(ix->obj, cap * sizeof(*o));
	if (!o)
		return -ENOMEM;
	ix->obj = o;
	ix->cap = cap;
	return 0;
}

/* Reads of the scan through a window, so that small records cost no
 * system call each. */
struct scan_window {
	ssc_fmt_read_fn rd;
	void *ctx;
	uint64_t capacity;
	uint64_t start;
	size_t len;
	uint8_t buf[256 * 1024];
};

static int scan_get(struct scan_window *w, uint64_t off, void *out, size_t n)
{
	if (off < w->start || off + n > w->start + w->len) {
		size_t len = sizeof(w->buf);
		int rc;

		if (off + len > w->capacity)
			len = (size_t)(w->capacity - off);
		if (len < n)
			return -EIO;
		rc = w->rd(w->ctx, off, w->buf, len);
		if (rc < 0)
			return rc;
		w->start = off;
		w->len = len;
	}
	memcpy(out, w->buf + (off - w->start), n);
	return 0;
}

/* Whether object i's data match their CRC. */
static int scan_verify(ssc_fmt_read_fn rd, void *ctx, const struct ssc_obj *o,
		       bool *ok)
{
	uint8_t *buf = malloc(SSC_REC_HDR_LEN + (size_t)o->len);
	struct ssc_rec_hdr r;
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = rd(ctx, o->off, buf, SSC_REC_HDR_LEN + (size_t)o->len);
	if (rc == 0)
		*ok = ssc_rec_decode(buf, &r) == 0 &&
		      r.data_crc ==
			  (o->len ? ssc_crc32c(buf + SSC_REC_HDR_LEN, o->len)
				  : 0);
	free(buf);
	return rc;
}

static int scan_chain(struct scan_window *w, struct ssc_index *ix)
{
	uint64_t off = SSC_FMT_DATA_START;
	uint8_t raw[SSC_REC_HDR_LEN];
	struct ssc_rec_hdr r;
	int rc;

	for (;;) {
		ix->eod_off = off;
		if (off + SSC_REC_HDR_LEN > w->capacity)
			return 0;
		rc = scan_get(w, off, raw, sizeof(raw));
		if (rc < 0)
			return rc;
		if (ssc_rec_decode(raw, &r) || r.gen <= ix->max_gen ||
		    r.object != ix->nr ||
		    off + SSC_REC_HDR_LEN + r.len > w->capacity)
			return 0; /* torn or stale: the chain ends here */
		ix->max_gen = r.gen;
		if (r.type == SSC_REC_EOD) {
			ix->clean_end = true;
			return 0;
		}
		rc = ssc_index_reserve(ix, 1);
		if (rc < 0)
			return rc;
		ix->obj[ix->nr++] =
		    (struct ssc_obj){.off = off, .len = r.len, .type = r.type};
		off += SSC_REC_HDR_LEN + r.len;
	}
}

int ssc_fmt_scan(ssc_fmt_read_fn rd, void *ctx, uint64_t capacity,
		 uint64_t verify_bytes, struct ssc_index *ix)
{
	struct scan_window *w = calloc(1, sizeof(*w));
	uint64_t first;
	int rc;

	memset(ix, 0, sizeof(*ix));
	if (!w)
		return -ENOMEM;
	w->rd = rd;
	w->ctx = ctx;
	w->capacity = capacity;
	rc = scan_chain(w, ix);
	free(w);
	/* The last verify_bytes of the chain: where a crash in the middle
	 * of a write leaves records whose header is on the medium and
	 * whose data are not (yet). */
	first = ix->nr;
	while (rc == 0 && first > 0 &&
	       ix->eod_off - ix->obj[first - 1].off <= verify_bytes)
		first--;
	for (uint64_t i = first; rc == 0 && i < ix->nr; i++) {
		bool ok = false;

		rc = scan_verify(rd, ctx, &ix->obj[i], &ok);
		if (rc == 0 && !ok) {
			ix->dropped = ix->nr - i;
			ix->eod_off = ix->obj[i].off;
			ix->nr = i;
			ix->clean_end = false;
		}
	}
	if (rc < 0)
		ssc_index_free(ix);
	return rc;
}

/* ---- a new cartridge ---- */

static int create_fail(int rc, char *err, size_t errlen, const char *path,
		       const char *what)
{
	snprintf(err, errlen, "cannot %s %s: %s", what, path, strerror(-rc));
	return rc;
}

int ssc_fmt_create(const char *path, uint64_t capacity, const char *barcode,
		   bool force, char *err, size_t errlen)
{
	/* The chain of a new cartridge: its EOD record, generation 1. */
	struct ssc_fmt_header h = {.seq = 1, .gen_floor = 2};
	uint8_t slots[2 * SSC_FMT_SLOT_LEN], eod[SSC_REC_HDR_LEN];
	uint64_t gen = 1;
	int fd, rc = 0;

	if (capacity < SSC_FMT_MIN_CAPACITY || capacity > INT64_MAX) {
		snprintf(err, errlen,
			 "size %llu is out of range; a cartridge has at least "
			 "%u bytes",
			 (unsigned long long)capacity, SSC_FMT_MIN_CAPACITY);
		return -EINVAL;
	}
	if (barcode && strlen(barcode) > SSC_FMT_BARCODE) {
		snprintf(err, errlen,
			 "barcode '%s' is longer than %d characters", barcode,
			 SSC_FMT_BARCODE);
		return -EINVAL;
	}
	for (const char *s = barcode ? barcode : ""; *s; s++) {
		if (*s <= 0x20 || *s >= 0x7f) {
			snprintf(err, errlen,
				 "barcode '%s' has a space, control or "
				 "non-ASCII character; use printable ASCII",
				 barcode);
			return -EINVAL;
		}
	}
	h.capacity = capacity;
	h.early_warning = ssc_fmt_default_ew(capacity);
	h.created = (uint64_t)time(NULL);
	snprintf(h.barcode, sizeof(h.barcode), "%s", barcode ? barcode : "");
	memset(slots, 0, sizeof(slots));
	ssc_fmt_header_encode(&h, slots);
	ssc_fmt_build(eod, SSC_REC_EOD, NULL, 0, 0, 0, &gen);

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? 0 : O_EXCL),
		  0644);
	if (fd < 0) {
		if (errno == EEXIST) {
			snprintf(err, errlen,
				 "%s exists; pick another name, or give "
				 "--force to overwrite it (its data are lost)",
				 path);
			return -EEXIST;
		}
		return create_fail(-errno, err, errlen, path, "create");
	}
	/* A cartridge is erased by force: no stale record survives. */
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)capacity) < 0)
		rc = create_fail(-errno, err, errlen, path, "size");
	else if (pwrite(fd, slots, sizeof(slots), 0) !=
		     (ssize_t)sizeof(slots) ||
		 pwrite(fd, eod, sizeof(eod), SSC_FMT_DATA_START) !=
		     (ssize_t)sizeof(eod))
		rc =
		    create_fail(-EIO, err, errlen, path, "write the header of");
	else if (fsync(fd) < 0)
		rc = create_fail(-errno, err, errlen, path, "flush");
	if (close(fd) < 0 && rc == 0)
		rc = create_fail(-errno, err, errlen, path, "close");
	if (rc < 0)
		unlink(path);
	return rc;
}
