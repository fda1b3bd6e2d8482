/*
 * The mode parameters of a logical unit (SPC-5 §7.5): for each mode page
 * the LU supports, its current, changeable, default and saved values.
 * MODE SENSE reads them, MODE SELECT writes them (mode.c); the few bits
 * the data path acts on (WCE, SWP, D_SENSE, TAS) are mirrored into an
 * atomic word so that it never takes a lock to read them.
 *
 * The pages a LU has are its device type's table (device.h, struct
 * scsi_mode_page: the build function gives the default values and the
 * changeable mask) plus the pages every type shares (control, 0Ah, and
 * informational exceptions control, 1Ch), defined in mode.c.
 *
 * Saved values live in a file per LU under the daemon's state directory
 * (scsi_mode_set_state_dir); without one, saving is not supported and the
 * pages report PS=0.
 */
#ifndef LUNAR_SCSI_MODE_H
#define LUNAR_SCSI_MODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scsi_lu;

#define SCSI_MODE_PAGES_MAX    16 /* pages a LU may have */
#define SCSI_MODE_PAGE_LEN_MAX 64 /* longest page, header included */

/* Bits of the current values the data path reads (scsi_mode.flags). */
#define SCSI_MODE_F_WCE	    (1u << 0) /* caching page (08h): write cache */
#define SCSI_MODE_F_SWP	    (1u << 1) /* control page: software write protect */
#define SCSI_MODE_F_D_SENSE (1u << 2) /* control page: descriptor sense */
#define SCSI_MODE_F_TAS	    (1u << 3) /* control page: task aborted status */

struct scsi_mode_page;

/* One page of one LU. def and mask never change after init; cur and saved
 * change under lu->lock. */
struct scsi_mode_values {
	const struct scsi_mode_page *page;
	uint8_t def[SCSI_MODE_PAGE_LEN_MAX];
	uint8_t mask[SCSI_MODE_PAGE_LEN_MAX]; /* changeable bits */
	uint8_t cur[SCSI_MODE_PAGE_LEN_MAX];
	uint8_t saved[SCSI_MODE_PAGE_LEN_MAX];
};

struct scsi_mode {
	unsigned nr;
	struct scsi_mode_values pg[SCSI_MODE_PAGES_MAX]; /* by page code */
	atomic_uint flags; /* SCSI_MODE_F_* of the current values */
	bool deleted;	   /* main thread: the admin deleted the LU */
};

/*
 * Where saved mode pages go (a copy is kept); NULL: saving is not
 * supported. Called once at start-up, before any LU exists.
 */
int scsi_mode_set_state_dir(const char *dir);

/*
 * Sets up lu->mode from the LU's device type (lu->dtype set) and loads
 * the saved values, if any: current values start as the saved ones
 * (SPC-5 §7.5.2). A damaged saved file is logged and ignored. Returns 0
 * or a negative errno with a message in err.
 */
int scsi_mode_lu_init(struct scsi_lu *lu, char *err, size_t errlen);
void scsi_mode_lu_exit(struct scsi_lu *lu);
/*
 * The admin deleted the LU (main thread): its saved values go with it, so
 * that a new LU at the same LUN starts from the defaults; MODE SELECT
 * commands still in flight for it save nothing more.
 */
void scsi_mode_lu_forget(struct scsi_lu *lu);

/* Lock-free reads of the current values, for the data path. */
bool scsi_mode_flag(const struct scsi_lu *lu, unsigned flag);
static inline bool scsi_mode_wce(const struct scsi_lu *lu)
{
	return scsi_mode_flag(lu, SCSI_MODE_F_WCE);
}
static inline bool scsi_mode_swp(const struct scsi_lu *lu)
{
	return scsi_mode_flag(lu, SCSI_MODE_F_SWP);
}
/* TAS (SPC-5 §7.5.8): tasks aborted by another I_T nexus end with TASK
 * ABORTED status (1) or without a response (0). */
static inline bool scsi_mode_tas(const struct scsi_lu *lu)
{
	return scsi_mode_flag(lu, SCSI_MODE_F_TAS);
}

#endif
