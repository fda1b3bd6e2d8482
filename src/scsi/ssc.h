/*
 * The tape drive (SSC-5 sequential-access device, ssc.c and ssc_rw.c):
 * the state one drive keeps, shared between its command files. The
 * cartridge is a file in the format of ssc_format.h.
 *
 * One command runs at a time (a drive does one thing at a time, however
 * many initiators send): the drive is held by the command that runs, or
 * by the main thread while it changes the cartridge; the others wait in
 * a FIFO, each started later on its own nexus's reactor. The cartridge
 * state (index, position, generation) belongs to whoever holds the
 * drive; the mode state (block length, buffered mode) and the flags
 * below are under lock.
 */
#ifndef LUNAR_SCSI_SSC_H
#define LUNAR_SCSI_SSC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "scsi/ssc_format.h"
#include "util/list.h"

struct scsi_cmd;
struct scsi_lu;

#define SSC_BLOCK_SIZE 512u	  /* sizes the LU's store addressing only */
#define SSC_DENSITY    0x80	  /* vendor unique: a lunar cartridge */
#define SSC_XFER_MAX   (8u << 20) /* bytes one READ/WRITE moves */
/* Bytes of records (headers included) one command stages: bounds a
 * fixed-mode transfer of tiny blocks, 40 header bytes each. */
#define SSC_STAGE_MAX	(32u << 20)
#define SSC_VERIFY_TAIL (16ull << 20) /* data CRC checked at load */

struct ssc_lu {
	pthread_mutex_t lock;
	bool busy;		/* a command (or main) holds the drive */
	struct list_head queue; /* waiting commands, by cmd->bs.link */
	/* mode (under lock) */
	uint32_t block_len; /* 0: variable block mode */
	bool buffered;	    /* BUFFERED MODE 1 */
	bool wp;	    /* the cartridge is write-protected */
	/* the cartridge (whoever holds the drive) */
	int fd; /* for the main thread's scan and flush; -1 */
	/* Taken out by the admin (lun eject), not only unloaded: LOAD
	 * finds nothing to load until lun load. */
	bool removed;
	struct ssc_fmt_header hdr;
	struct ssc_index ix;
	uint64_t pos; /* logical object number */
	uint64_t next_gen;
	/* the running command's staging buffer and plan */
	uint8_t *stage;
	uint64_t plan_off;  /* where it reads or writes */
	uint64_t plan_n;    /* objects the command reads or writes */
	uint64_t plan_len;  /* bytes of each object it writes */
	int plan_type;	    /* enum ssc_rec_type it writes */
	uint64_t plan_req;  /* blocks (fixed) or bytes (variable) asked */
	int plan_stop;	    /* SSC_STOP_* */
	bool plan_flush;    /* flush after the write */
	bool plan_overflow; /* VOLUME OVERFLOW after the write */
};

enum ssc_stop {
	SSC_STOP_NONE,
	SSC_STOP_FILEMARK,
	SSC_STOP_EOD,
	SSC_STOP_ILI,
};

/* ---- ssc.c: the drive ---- */

/* Ends the running command: the drive passes to the next waiting one,
 * then the command completes. */
void ssc_finish(struct scsi_cmd *cmd);
/* Sets CHECK CONDITION with sense key/asc/ascq, stream bits and an
 * INFORMATION value (when info_valid; negative: a residual below 0). */
void ssc_set_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc, uint8_t ascq,
		   uint8_t stream, bool info_valid, int64_t info);
/* Finishes cmd with sense key/asc/ascq, stream bits and an INFORMATION
 * value (info_valid). */
void ssc_finish_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc,
		      uint8_t ascq, uint8_t stream, bool info_valid,
		      int64_t info);
/* Whether the position (byte offset) is past the early warning. */
bool ssc_past_ew(const struct ssc_lu *m, uint64_t off);
/* FLUSH of the store, then ssc_finish. */
void ssc_flush_then_finish(struct scsi_cmd *cmd);

/* ---- ssc_rw.c: READ, WRITE, WRITE FILEMARKS, ERASE ---- */

int ssc_rw_parse(struct scsi_cmd *cmd);
int ssc_wfm_parse(struct scsi_cmd *cmd);
void ssc_read_start(struct scsi_cmd *cmd);
void ssc_write_start(struct scsi_cmd *cmd);
void ssc_wfm_start(struct scsi_cmd *cmd);
void ssc_erase_start(struct scsi_cmd *cmd);

#endif
