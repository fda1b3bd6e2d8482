/*
 * The cartridge format of the tape device type (docs/tape-format.md):
 * a sparse file of the cartridge's capacity holding two header slots
 * and a chain of records (data blocks, filemarks, end of data), each
 * with a generation number and CRC32C checksums. Pure code: no SCSI, no
 * reactor; lunard's tape (ssc.c) and `lunarctl tape create` use it.
 * Integers on the medium are little-endian.
 */
#ifndef LUNAR_SCSI_SSC_FORMAT_H
#define LUNAR_SCSI_SSC_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSC_FMT_MAGIC	   "LUNARTAP" /* 8 bytes at the start of a slot */
#define SSC_FMT_VERSION	   1u
#define SSC_FMT_SLOT_LEN   512u	 /* each header slot; two of them */
#define SSC_FMT_DATA_START 4096u /* the first record */
#define SSC_FMT_BARCODE	   32	 /* bytes of the volume label */
/* The smallest cartridge: the header area and a little room. */
#define SSC_FMT_MIN_CAPACITY (64u * 1024)

#define SSC_REC_MAGIC	0x4352544cu /* "LTRC" little-endian */
#define SSC_REC_HDR_LEN 40u
/* The longest data record (READ BLOCK LIMITS reports it). */
#define SSC_REC_MAX_LEN (1u << 20)
/* Generations one run of lunard may use at most (2^40): each load of a
 * writable cartridge raises the header's floor by this much (see
 * ssc_fmt_next_floor). */
#define SSC_GEN_EPOCH (1ull << 40)

enum ssc_rec_type {
	SSC_REC_DATA = 1,
	SSC_REC_FILEMARK = 2,
	SSC_REC_EOD = 3,
};

struct ssc_fmt_header {
	uint64_t seq;		/* the valid slot of higher seq is current */
	uint64_t capacity;	/* bytes of the whole file */
	uint64_t early_warning; /* bytes before capacity where EW begins */
	uint64_t created;	/* seconds since the epoch */
	/* Every record written before this run of the drive has a lower
	 * generation: a new run writes from here. */
	uint64_t gen_floor;
	char barcode[SSC_FMT_BARCODE + 1]; /* NUL-terminated */
};

struct ssc_rec_hdr {
	uint8_t type;
	uint32_t len; /* data bytes after the header */
	uint32_t data_crc;
	uint64_t gen;
	uint64_t object; /* logical object number (0 at BOP) */
};

/* One logical object of the chain: its record's header offset. */
struct ssc_obj {
	uint64_t off;
	uint32_t len;
	uint8_t type; /* SSC_REC_DATA or SSC_REC_FILEMARK */
};

/* The chain in memory: objects 0..nr-1, then end of data at eod_off. */
struct ssc_index {
	struct ssc_obj *obj;
	uint64_t nr, cap;
	uint64_t eod_off;
	uint64_t max_gen; /* highest generation in the chain (0: none) */
	bool clean_end;	  /* the chain ends in an EOD record */
	uint64_t dropped; /* objects cut off by the data CRC check */
};

/* CRC32C (Castagnoli, ISA-L) of n bytes, seed ~0 and final inversion. */
uint32_t ssc_crc32c(const void *p, size_t n);

void ssc_fmt_header_encode(const struct ssc_fmt_header *h,
			   uint8_t out[SSC_FMT_SLOT_LEN]);
/* 0, -EINVAL (not a slot: magic or CRC), -EPROTONOSUPPORT (version). */
int ssc_fmt_header_decode(const uint8_t in[SSC_FMT_SLOT_LEN],
			  struct ssc_fmt_header *h);
/* The current header of two slots: 0 and its slot number in *slot, or
 * the error of slot 0 when neither is valid. */
int ssc_fmt_header_pick(const uint8_t slots[2 * SSC_FMT_SLOT_LEN],
			struct ssc_fmt_header *h, unsigned *slot);
/* Whether path is a cartridge lunard can load: 0, or -errno (-EINVAL:
 * no valid header, -EPROTONOSUPPORT: another version). */
int ssc_fmt_probe(const char *path);
/* The default early-warning size of a cartridge of capacity bytes. */
uint64_t ssc_fmt_default_ew(uint64_t capacity);
/* The floor the next run of a writable cartridge writes from. */
uint64_t ssc_fmt_next_floor(const struct ssc_fmt_header *h,
			    const struct ssc_index *ix);

void ssc_rec_encode(const struct ssc_rec_hdr *r, uint8_t out[SSC_REC_HDR_LEN]);
/* 0, or -EINVAL when magic, type or header CRC are wrong. */
int ssc_rec_decode(const uint8_t in[SSC_REC_HDR_LEN], struct ssc_rec_hdr *r);

/* Reads len bytes at off; 0 or -errno (a short read is -EIO). */
typedef int (*ssc_fmt_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

/*
 * Builds ix from the records of a cartridge of capacity bytes: the
 * chain from SSC_FMT_DATA_START while each record decodes, numbers its
 * object in order, has a generation above the one before and fits; an
 * EOD record ends it cleanly, anything else ends it as torn. Then the
 * data CRC of the objects in the last verify_bytes of the chain is
 * checked, and the chain cut before the first that fails. Returns 0 or
 * -errno of a read or allocation (ix freed).
 */
int ssc_fmt_scan(ssc_fmt_read_fn rd, void *ctx, uint64_t capacity,
		 uint64_t verify_bytes, struct ssc_index *ix);
void ssc_index_free(struct ssc_index *ix);
/* Room for n more objects; 0 or -ENOMEM. */
int ssc_index_reserve(struct ssc_index *ix, uint64_t n);
/* Offset of object i's record, or of EOD when i == nr. */
static inline uint64_t ssc_index_off(const struct ssc_index *ix, uint64_t i)
{
	return i < ix->nr ? ix->obj[i].off : ix->eod_off;
}

/*
 * Writes records into out (which must hold ssc_fmt_write_len bytes):
 * n objects of the given type (data: each len bytes from data, one after
 * the other; filemarks: none) numbered from object, generations from
 * *gen on, and an EOD record after them. *gen is advanced. Returns the
 * bytes written.
 */
size_t ssc_fmt_build(uint8_t *out, enum ssc_rec_type type, const uint8_t *data,
		     uint32_t len, uint64_t n, uint64_t object, uint64_t *gen);
static inline uint64_t ssc_fmt_write_len(uint32_t len, uint64_t n)
{
	return n * (SSC_REC_HDR_LEN + (uint64_t)len) + SSC_REC_HDR_LEN;
}

/*
 * Creates an empty cartridge at path: a sparse file of capacity bytes
 * with its header, flushed. An existing file is refused (-EEXIST)
 * unless force. Returns 0 or -errno with a message for admins in err.
 */
int ssc_fmt_create(const char *path, uint64_t capacity, const char *barcode,
		   bool force, char *err, size_t errlen);

#endif
