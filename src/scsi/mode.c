/*
 * Mode parameters (SPC-5 §7.5) and the commands that read and write them:
 *   §6.14/§6.15 MODE SENSE (6)/(10): the mode parameter header (§7.5.5),
 *   the device type's block descriptor and the pages, with page control
 *   current, changeable, default or saved (§7.5.2);
 *   §6.11/§6.12 MODE SELECT (6)/(10): PF, SP and RTD, the parameter list
 *   (header, one block descriptor, pages) checked whole before anything
 *   changes (the device-specific parameter and block descriptor by the
 *   device type's mode_select_check when it has one), only changeable bits may
 * differ from the current values; a change establishes MODE PARAMETERS CHANGED
 * for the other I_T nexuses (§7.5.2); SP=1 saves every page to a file under the
 * state directory, written atomically on the main thread. The pages every
 * device type shares are here: control (§7.5.8, SWP, D_SENSE and TAS
 * changeable) and informational exceptions control (§7.5.11).
 *
 * Locking: a LU's current and saved values change under lu->lock; the
 * default values and the changeable masks never change after init, so
 * checking a parameter list needs no lock. The bits the data path reads
 * are mirrored into mode->flags.
 */
#include "scsi/mode.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event/reactor.h"
#include "scsi/device.h"
#include "scsi/sense.h"
#include "scsi/ua.h"
#include "util/bytes.h"
#include "util/file.h"
#include "util/log.h"

/* Header, a long LBA block descriptor and every page. */
#define MODE_DATA_MAX  (8 + 16 + SCSI_MODE_PAGES_MAX * SCSI_MODE_PAGE_LEN_MAX)
#define MODE_DATA6_MAX 256 /* MODE DATA LENGTH of (6) is one byte */

#define MODE_ALL_PAGES	  0x3f
#define MODE_ALL_SUBPAGES 0xff

/* Byte 1 of MODE SELECT (6)/(10). */
#define MODE_SELECT_PF	0x10
#define MODE_SELECT_RTD 0x02
#define MODE_SELECT_SP	0x01

#define MODE_PS	 0x80 /* byte 0 of a page: parameters saveable */
#define MODE_SPF 0x40 /* byte 0 of a page: sub_page format */

#define MODE_SAVE_SUBDIR "mode-pages"

/* ---- where saved pages go ---- */

static char *mode_state_dir;

int scsi_mode_set_state_dir(const char *dir)
{
	char *copy = NULL;

	if (dir && !(copy = strdup(dir)))
		return -ENOMEM;
	free(mode_state_dir);
	mode_state_dir = copy;
	return 0;
}

static bool mode_saving(void)
{
	return mode_state_dir != NULL;
}

/* "<state dir>/mode-pages/<target>.lun<N>": target names are iSCSI names,
 * safe in a file name. */
static int mode_save_path(const struct scsi_lu *lu, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s/%s.lun%" PRIu64, mode_state_dir,
			 MODE_SAVE_SUBDIR, lu->target->name, lu->lun);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- the pages every device type shares ---- */

/* Control (0Ah). */
static void mode_control(const struct scsi_lu *lu, enum scsi_mode_pc pc,
			 uint8_t *p)
{
	p[0] = 0x0a;
	p[1] = 0x0a;
	if (pc == SCSI_MODE_PC_CHANGEABLE) {
		p[2] = 0x04; /* D_SENSE */
		p[4] = 0x08; /* SWP */
		p[5] = 0x40; /* TAS */
		return;
	}
	/* TST 001b: a task set per I_T nexus (core.c); GLTSD: no log
	 * parameters are saved; D_SENSE 0: fixed format sense data. */
	p[2] = 0x20 | 0x02;
	/* QUEUE ALGORITHM MODIFIER 1: SIMPLE tasks may be reordered; QERR
	 * 00b: other tasks go on after a CHECK CONDITION. */
	p[3] = 0x10;
	/* SWP 0. TAS 1: a task another I_T nexus aborts (its LOGICAL UNIT
	 * RESET, PREEMPT AND ABORT) ends with TASK ABORTED status, as LIO
	 * does by default: with TAS 0 it would end without any response
	 * and its initiator would learn of it only by timing out. */
	p[5] = 0x40;
	put_be16(p + 8, 0xffff); /* BUSY TIMEOUT PERIOD: unlimited */
}

/* Informational exceptions control (1Ch): nothing to report, DEXCPT. */
static void mode_iec(const struct scsi_lu *lu, enum scsi_mode_pc pc, uint8_t *p)
{
	p[0] = 0x1c;
	p[1] = 0x0a;
	if (pc == SCSI_MODE_PC_CHANGEABLE)
		return;
	p[2] = 0x08; /* DEXCPT */
}

static const struct scsi_mode_page mode_common_pages[] = {
    {.code = 0x0a, .len = 12, .build = mode_control},
    {.code = 0x1c, .len = 12, .build = mode_iec},
};

/* Where the bits of mode->flags live in the current values. */
static const struct {
	uint8_t page, byte, mask;
	unsigned flag;
} mode_flag_bits[] = {
    {0x08, 2, 0x04, SCSI_MODE_F_WCE},
    {0x0a, 4, 0x08, SCSI_MODE_F_SWP},
    {0x0a, 2, 0x04, SCSI_MODE_F_D_SENSE},
    {0x0a, 5, 0x40, SCSI_MODE_F_TAS},
};

#define MODE_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the model ---- */

static struct scsi_mode_values *mode_find(struct scsi_mode *m, uint8_t code)
{
	for (unsigned i = 0; i < m->nr; i++) {
		if (m->pg[i].page->code == code)
			return &m->pg[i];
	}
	return NULL;
}

/* Recomputes the flags from the current values. Caller holds lu->lock
 * (or owns the LU alone). */
static void mode_update_flags(struct scsi_mode *m)
{
	unsigned flags = 0;

	for (unsigned i = 0; i < MODE_COUNT(mode_flag_bits); i++) {
		struct scsi_mode_values *v =
		    mode_find(m, mode_flag_bits[i].page);

		if (v &&
		    (v->cur[mode_flag_bits[i].byte] & mode_flag_bits[i].mask))
			flags |= mode_flag_bits[i].flag;
	}
	atomic_store_explicit(&m->flags, flags, memory_order_release);
}

bool scsi_mode_flag(const struct scsi_lu *lu, unsigned flag)
{
	return lu->mode &&
	       (atomic_load_explicit(&lu->mode->flags, memory_order_acquire) &
		flag);
}

bool spc_lu_d_sense(const struct scsi_lu *lu)
{
	return lu && scsi_mode_flag(lu, SCSI_MODE_F_D_SENSE);
}

static int mode_add_page(struct scsi_mode *m, const struct scsi_lu *lu,
			 const struct scsi_mode_page *pg, char *err,
			 size_t errlen)
{
	struct scsi_mode_values *v;
	unsigned at = m->nr;

	if (m->nr == SCSI_MODE_PAGES_MAX || pg->len < 2 ||
	    pg->len > SCSI_MODE_PAGE_LEN_MAX || mode_find(m, pg->code)) {
		snprintf(err, errlen,
			 "device type %s: mode page %02xh does not fit the "
			 "mode page model (duplicate, too long or too many); "
			 "fix the device type's page table",
			 lu->dtype->name ? lu->dtype->name : "(none)",
			 pg->code);
		return -EINVAL;
	}
	/* Ascending page code: MODE SENSE returns them in this order. */
	while (at > 0 && m->pg[at - 1].page->code > pg->code) {
		m->pg[at] = m->pg[at - 1];
		at--;
	}
	v = &m->pg[at];
	memset(v, 0, sizeof(*v));
	v->page = pg;
	pg->build(lu, SCSI_MODE_PC_DEFAULT, v->def);
	pg->build(lu, SCSI_MODE_PC_CHANGEABLE, v->mask);
	/* The header is the model's: page code and length, never changeable. */
	v->def[0] = pg->code;
	v->def[1] = (uint8_t)(pg->len - 2);
	v->mask[0] = v->mask[1] = 0;
	memcpy(v->cur, v->def, pg->len);
	memcpy(v->saved, v->def, pg->len);
	m->nr++;
	return 0;
}

/* "0a 0a0a2202..." -> the bytes; false if the line is not of that form. */
static bool mode_parse_line(const char *line, uint8_t *code, uint8_t *bytes,
			    size_t *len)
{
	int hi, lo;
	size_t n = 0;

	if ((hi = hex_digit_value(line[0])) < 0 ||
	    (lo = hex_digit_value(line[1])) < 0 || line[2] != ' ')
		return false;
	*code = (uint8_t)(hi << 4 | lo);
	for (line += 3; *line && *line != '\n'; line += 2) {
		if ((hi = hex_digit_value(line[0])) < 0 ||
		    (lo = hex_digit_value(line[1])) < 0 ||
		    n == SCSI_MODE_PAGE_LEN_MAX)
			return false;
		bytes[n++] = (uint8_t)(hi << 4 | lo);
	}
	*len = n;
	return true;
}

/* Loads the saved values: only the changeable bits of what was saved
 * count, so a page whose fixed values changed between versions loads. */
static void mode_load_saved(struct scsi_lu *lu)
{
	struct scsi_mode *m = lu->mode;
	char path[4096], line[2 * SCSI_MODE_PAGE_LEN_MAX + 16];
	unsigned lineno = 0;
	FILE *f;

	if (!mode_saving() || mode_save_path(lu, path, sizeof(path)))
		return;
	f = fopen(path, "re");
	if (!f) {
		if (errno != ENOENT)
			log_warn("target %s LUN %" PRIu64 ": cannot read saved "
				 "mode pages %s: %s; using the defaults",
				 lu->target->name, lu->lun, path,
				 strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		uint8_t code, bytes[SCSI_MODE_PAGE_LEN_MAX];
		struct scsi_mode_values *v;
		size_t len;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!mode_parse_line(line, &code, bytes, &len) ||
		    !(v = mode_find(m, code)) || len != v->page->len) {
			log_warn("%s:%u: not a saved mode page of this LU; "
				 "ignored (delete the file to start from the "
				 "defaults)",
				 path, lineno);
			continue;
		}
		for (size_t i = 2; i < len; i++)
			v->saved[i] = (uint8_t)((v->def[i] & ~v->mask[i]) |
						(bytes[i] & v->mask[i]));
		memcpy(v->cur, v->saved, len);
	}
	fclose(f);
}

int scsi_mode_lu_init(struct scsi_lu *lu, char *err, size_t errlen)
{
	const struct scsi_device_type *dt = lu->dtype;
	struct scsi_mode *m = calloc(1, sizeof(*m));
	int rc = 0;

	if (!m) {
		snprintf(err, errlen,
			 "out of memory setting up the mode pages "
			 "of a LU");
		return -ENOMEM;
	}
	for (unsigned i = 0; rc == 0 && i < dt->nr_mode_pages; i++)
		rc = mode_add_page(m, lu, &dt->mode_pages[i], err, errlen);
	for (unsigned i = 0; rc == 0 && i < MODE_COUNT(mode_common_pages); i++)
		rc = mode_add_page(m, lu, &mode_common_pages[i], err, errlen);
	if (rc) {
		free(m);
		return rc;
	}
	lu->mode = m;
	mode_load_saved(lu);
	mode_update_flags(m);
	return 0;
}

void scsi_mode_lu_exit(struct scsi_lu *lu)
{
	free(lu->mode);
	lu->mode = NULL;
}

void scsi_mode_lu_forget(struct scsi_lu *lu)
{
	char path[4096];

	if (!lu->mode)
		return;
	lu->mode->deleted = true;
	if (!mode_saving() || mode_save_path(lu, path, sizeof(path)))
		return;
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("target %s LUN %" PRIu64 ": cannot remove the saved "
			 "mode pages %s: %s; remove it before creating this "
			 "LUN again",
			 lu->target->name, lu->lun, path, strerror(errno));
}

/* ---- saving ---- */

/* The file of saved pages: one line per page, its code and its bytes in
 * hex, replaced atomically (util/file.h). */
static int mode_save_file(const struct scsi_lu *lu,
			  uint8_t image[][SCSI_MODE_PAGE_LEN_MAX])
{
	const struct scsi_mode *m = lu->mode;
	char path[4096], dir[4096];
	char text[SCSI_MODE_PAGES_MAX * (2 * SCSI_MODE_PAGE_LEN_MAX + 4) +
		  SCSI_NAME_MAX + 64];
	size_t len;
	int rc;

	if (m->deleted)
		return 0; /* the LU and its saved values are gone */
	rc = mode_save_path(lu, path, sizeof(path));
	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s/%s", mode_state_dir, MODE_SAVE_SUBDIR);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	len = (size_t)snprintf(
	    text, sizeof(text),
	    "# lunar saved mode pages: target %s LUN %" PRIu64 "\n",
	    lu->target->name, lu->lun);
	for (unsigned i = 0; i < m->nr; i++) {
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%02x ",
					m->pg[i].page->code);
		for (unsigned j = 0; j < m->pg[i].page->len; j++)
			len += (size_t)snprintf(text + len, sizeof(text) - len,
						"%02x", image[i][j]);
		text[len++] = '\n';
	}
	return util_file_replace(path, text, len, NULL);
}

/* ---- MODE SENSE (6) and (10) ---- */

static bool mode_cdb_is10(const struct scsi_cmd *cmd)
{
	return cmd->cdb[0] == 0x5a || cmd->cdb[0] == 0x55;
}

static int mode_sense_parse(struct scsi_cmd *cmd)
{
	const struct scsi_mode *m = cmd->lu->mode;
	uint8_t pc = cmd->cdb[2] >> 6, page = cmd->cdb[2] & 0x3f;
	uint8_t subpage = cmd->cdb[3];
	/* Page 00h (vendor specific, no page format): a type with
	 * mode_page_zero answers it with the header and block descriptor. */
	bool found = page == MODE_ALL_PAGES ||
		     (page == 0 && cmd->lu->dtype->mode_page_zero);

	if (pc == SCSI_MODE_PC_SAVED && !mode_saving()) {
		struct scsi_sense_info si;

		scsi_sense_info_init(&si, SCSI_SK_ILLEGAL_REQUEST,
				     SCSI_ASC_SAVING_PARAMS_UNSUPPORTED);
		scsi_sense_field_pointer(&si, true, 2, 7);
		scsi_cmd_set_sense_full(cmd, &si);
		return -EINVAL;
	}
	for (unsigned i = 0; i < m->nr && !found; i++)
		found = m->pg[i].page->code == page;
	if (!found) {
		scsi_cmd_set_invalid_field(cmd, 2, 5);
		return -EINVAL;
	}
	/* No page has subpages: only 00h and "all subpages" name one. */
	if (subpage != 0 && subpage != MODE_ALL_SUBPAGES) {
		scsi_cmd_set_invalid_field(cmd, 3, 7);
		return -EINVAL;
	}
	cmd->cdb_xfer_len =
	    mode_cdb_is10(cmd) ? get_be16(cmd->cdb + 7) : cmd->cdb[4];
	return 0;
}

static const uint8_t *mode_values(const struct scsi_mode_values *v,
				  enum scsi_mode_pc pc)
{
	switch (pc) {
	case SCSI_MODE_PC_CURRENT:
		return v->cur;
	case SCSI_MODE_PC_CHANGEABLE:
		return v->mask;
	case SCSI_MODE_PC_DEFAULT:
		return v->def;
	default:
		return v->saved;
	}
}

static int mode_sense(struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->lu;
	const struct scsi_device_type *dt = lu->dtype;
	struct scsi_mode *m = lu->mode;
	bool ten = mode_cdb_is10(cmd);
	bool dbd = cmd->cdb[1] & 0x08;
	bool llbaa = ten && (cmd->cdb[1] & 0x10);
	enum scsi_mode_pc pc = cmd->cdb[2] >> 6;
	uint8_t page = cmd->cdb[2] & 0x3f;
	size_t hdr = ten ? 8 : 4, bdlen = 0, len;
	size_t max = ten ? MODE_DATA_MAX : MODE_DATA6_MAX;
	uint8_t d[MODE_DATA_MAX];

	memset(d, 0, sizeof(d));
	if (!dbd && dt->mode_block_descriptor)
		bdlen = dt->mode_block_descriptor(lu, llbaa, d + hdr);
	len = hdr + bdlen;
	pthread_mutex_lock(&lu->lock);
	for (unsigned i = 0; i < m->nr; i++) {
		const struct scsi_mode_values *v = &m->pg[i];

		if (page != MODE_ALL_PAGES && v->page->code != page)
			continue;
		if (len + v->page->len > max)
			break;
		memcpy(d + len, mode_values(v, pc), v->page->len);
		if (pc == SCSI_MODE_PC_CURRENT && v->page->sense_current)
			v->page->sense_current(lu, d + len);
		d[len] = v->page->code | (mode_saving() ? MODE_PS : 0);
		d[len + 1] = (uint8_t)(v->page->len - 2);
		len += v->page->len;
	}
	pthread_mutex_unlock(&lu->lock);
	if (ten) {
		put_be16(d, (uint16_t)(len - 2));
		d[3] = dt->mode_device_param ? dt->mode_device_param(lu) : 0;
		if (bdlen == 16)
			d[4] = 0x01; /* LONGLBA */
		put_be16(d + 6, (uint16_t)bdlen);
	} else {
		d[0] = (uint8_t)(len - 1);
		d[2] = dt->mode_device_param ? dt->mode_device_param(lu) : 0;
		d[3] = (uint8_t)bdlen;
	}
	scsi_cmd_put_data(cmd, d, len);
	return 0;
}

/* ---- MODE SELECT (6) and (10) ---- */

/* What a parameter list asks: new current values for some pages. */
struct mode_change {
	bool rtd; /* every page back to its defaults */
	/* For a type with mode_select_apply: the header's device-specific
	 * parameter and the block descriptor, when the list has them. */
	bool have_hdr, have_bd;
	uint8_t dev_param;
	uint8_t bd[8];
	bool set[SCSI_MODE_PAGES_MAX];
	uint8_t val[SCSI_MODE_PAGES_MAX][SCSI_MODE_PAGE_LEN_MAX];
};

#define mode_invalid_param(cmd, byte, bit)                                     \
	scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, byte,   \
				 bit)
#define mode_length_error(cmd)                                                 \
	scsi_cmd_set_param_error(cmd, SCSI_ASC_PARAMETER_LIST_LENGTH, -1, -1)

static int mode_select_parse(struct scsi_cmd *cmd)
{
	uint8_t flags = cmd->cdb[1];
	uint32_t len =
	    mode_cdb_is10(cmd) ? get_be16(cmd->cdb + 7) : cmd->cdb[4];

	if ((flags & MODE_SELECT_SP) && !mode_saving()) {
		scsi_cmd_set_invalid_field(cmd, 1, 0);
		return -EINVAL;
	}
	/* RTD: back to the defaults, with no parameter list. */
	if ((flags & MODE_SELECT_RTD) && len) {
		scsi_cmd_set_invalid_field(cmd, 1, 1);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = len;
	return 0;
}

static int mode_highest_bit(uint8_t v)
{
	int bit = 7;

	while (bit > 0 && !(v & (1u << bit)))
		bit--;
	return bit;
}

/*
 * The block descriptor (SBC-4 §6.5.2 layout: the NUMBER OF LOGICAL
 * BLOCKS first): the number of blocks may be 0 (no change) or what the
 * LU has; everything else must be what MODE SENSE reports, the block
 * length above all. Formatting to another size is not supported.
 */
static int mode_check_block_descriptor(struct scsi_cmd *cmd, const uint8_t *bd,
				       size_t off, bool long_lba)
{
	const struct scsi_device_type *dt = cmd->lu->dtype;
	size_t nblk = long_lba ? 8 : 4, len = long_lba ? 16 : 8;
	size_t blen_at = long_lba ? 12 : 5;
	uint8_t want[16];
	bool zero = true;

	memset(want, 0, sizeof(want));
	dt->mode_block_descriptor(cmd->lu, long_lba, want);
	for (size_t i = 0; i < nblk; i++)
		zero &= bd[i] == 0;
	if (!zero && memcmp(bd, want, nblk)) {
		mode_invalid_param(cmd, (int)off, 7);
		return -EINVAL;
	}
	for (size_t i = nblk; i < len; i++) {
		if (bd[i] != want[i]) {
			size_t at = i >= blen_at ? blen_at : i;

			mode_invalid_param(
			    cmd, (int)(off + at),
			    at == i ? mode_highest_bit(bd[i] ^ want[i]) : 7);
			return -EINVAL;
		}
	}
	return 0;
}

/* One page at p[0..n) (n bytes left in the list, at offset off). Returns
 * its length, or a negative errno with the sense set. */
static int mode_check_page(struct scsi_cmd *cmd, const uint8_t *p, size_t n,
			   size_t off, struct mode_change *ch)
{
	struct scsi_mode *m = cmd->lu->mode;
	const struct scsi_mode_values *v = NULL;
	unsigned idx;
	size_t len;

	if (n < 2) {
		mode_length_error(cmd);
		return -EINVAL;
	}
	for (idx = 0; idx < m->nr; idx++) {
		if (m->pg[idx].page->code == (p[0] & 0x3f)) {
			v = &m->pg[idx];
			break;
		}
	}
	if (!v) {
		mode_invalid_param(cmd, (int)off, 5);
		return -EINVAL;
	}
	/* PS is reserved here; initiators that send back what MODE SENSE
	 * gave them leave it set, so it is ignored. No page has subpages. */
	if (p[0] & MODE_SPF) {
		mode_invalid_param(cmd, (int)off, 6);
		return -EINVAL;
	}
	len = (size_t)p[1] + 2;
	if (len != v->page->len) {
		mode_invalid_param(cmd, (int)off + 1, 7);
		return -EINVAL;
	}
	if (len > n) {
		mode_length_error(cmd);
		return -EINVAL;
	}
	for (size_t i = 2; i < len; i++) {
		uint8_t fixed = (uint8_t)((p[i] ^ v->def[i]) & ~v->mask[i]);

		if (fixed) {
			mode_invalid_param(cmd, (int)(off + i),
					   mode_highest_bit(fixed));
			return -EINVAL;
		}
	}
	ch->set[idx] = true;
	memcpy(ch->val[idx], v->def, 2);
	memcpy(ch->val[idx] + 2, p + 2, len - 2);
	return (int)len;
}

/*
 * The whole parameter list, checked before anything changes (SPC-5
 * §6.11: a failed MODE SELECT changes no parameter). Returns 0 or a
 * negative errno with the sense set.
 */
static int mode_select_decode(struct scsi_cmd *cmd, struct mode_change *ch)
{
	bool ten = mode_cdb_is10(cmd);
	const uint8_t *d = cmd->buf;
	size_t n = cmd->xfer_len, hdr = ten ? 8 : 4, bdlen, off;
	bool long_lba;

	memset(ch, 0, sizeof(*ch));
	if (cmd->cdb[1] & MODE_SELECT_RTD) {
		ch->rtd = true;
		return 0;
	}
	if (cmd->cdb_xfer_len == 0)
		return 0; /* nothing to change, and no error (SPC-5 §6.11) */
	if (n < hdr) {
		mode_length_error(cmd);
		return -EINVAL;
	}
	/* MODE DATA LENGTH is reserved here; so is the device-specific
	 * parameter of a disk (WP, DPOFUA), which initiators send back as
	 * MODE SENSE gave it. */
	if (d[ten ? 2 : 1]) { /* MEDIUM TYPE: 00h for a disk */
		mode_invalid_param(cmd, ten ? 2 : 1, 7);
		return -EINVAL;
	}
	long_lba = ten && (d[4] & 0x01);
	bdlen = ten ? get_be16(d + 6) : d[3];
	if (bdlen && (bdlen != (long_lba ? 16u : 8u) ||
		      !cmd->lu->dtype->mode_block_descriptor)) {
		mode_invalid_param(cmd, ten ? 6 : 3, 7);
		return -EINVAL;
	}
	if (hdr + bdlen > n) {
		mode_length_error(cmd);
		return -EINVAL;
	}
	if (cmd->lu->dtype->mode_select_check) {
		const uint8_t *bd = bdlen == 8 ? d + hdr : NULL;
		uint8_t dp = d[ten ? 3 : 2];

		if (bdlen && !bd) { /* no long form for such a type */
			mode_invalid_param(cmd, ten ? 6 : 3, 7);
			return -EINVAL;
		}
		if (cmd->lu->dtype->mode_select_check(cmd, dp, bd, hdr))
			return -EINVAL;
		ch->have_hdr = true;
		ch->dev_param = dp;
		ch->have_bd = bd != NULL;
		if (bd)
			memcpy(ch->bd, bd, 8);
	} else if (bdlen &&
		   mode_check_block_descriptor(cmd, d + hdr, hdr, long_lba)) {
		return -EINVAL;
	}
	off = hdr + bdlen;
	/* PF=0: what follows would be vendor specific; there is none. */
	if (off < n && !(cmd->cdb[1] & MODE_SELECT_PF)) {
		scsi_cmd_set_invalid_field(cmd, 1, 4);
		return -EINVAL;
	}
	while (off < n) {
		int len = mode_check_page(cmd, d + off, n - off, off, ch);

		if (len < 0)
			return len;
		off += (size_t)len;
	}
	return 0;
}

/* The new current values of page i. */
static const uint8_t *mode_change_val(const struct mode_change *ch,
				      const struct scsi_mode_values *v,
				      unsigned i)
{
	if (ch->rtd)
		return v->def;
	return ch->set[i] ? ch->val[i] : v->cur;
}

/*
 * Makes the change current (and saved, when image is not NULL); the other
 * I_T nexuses learn of a change through a unit attention.
 */
static void mode_apply(struct scsi_cmd *cmd, const struct mode_change *ch,
		       uint8_t image[][SCSI_MODE_PAGE_LEN_MAX])
{
	struct scsi_lu *lu = cmd->lu;
	struct scsi_mode *m = lu->mode;
	bool changed = false;

	pthread_mutex_lock(&lu->lock);
	for (unsigned i = 0; i < m->nr; i++) {
		struct scsi_mode_values *v = &m->pg[i];
		const uint8_t *nv = mode_change_val(ch, v, i);

		if (memcmp(v->cur, nv, v->page->len)) {
			memcpy(v->cur, nv, v->page->len);
			changed = true;
		}
		if (image)
			memcpy(v->saved, image[i], v->page->len);
	}
	mode_update_flags(m);
	pthread_mutex_unlock(&lu->lock);
	if (ch->have_hdr && lu->dtype->mode_select_apply)
		lu->dtype->mode_select_apply(lu, ch->dev_param,
					     ch->have_bd ? ch->bd : NULL);
	if (changed)
		scsi_ua_establish_others(lu, cmd->nexus,
					 SCSI_ASC_MODE_PARAMETERS_CHANGED);
}

/* A MODE SELECT with SP=1 on its way through the main thread. */
struct mode_save_job {
	struct scsi_cmd *cmd;
	struct reactor_msg msg;
	int result;
	struct mode_change ch;
	uint8_t image[SCSI_MODE_PAGES_MAX][SCSI_MODE_PAGE_LEN_MAX];
};

static void mode_save_done(void *arg)
{
	struct mode_save_job *job = arg;
	struct scsi_cmd *cmd = job->cmd;

	if (job->result) {
		log_error("target %s LUN %" PRIu64 ": cannot save the mode "
			  "pages under %s/%s: %s; check that the state "
			  "directory is writable",
			  cmd->lu->target->name, cmd->lu->lun, mode_state_dir,
			  MODE_SAVE_SUBDIR, strerror(-job->result));
		scsi_cmd_set_sense(cmd, SCSI_SK_HARDWARE_ERROR,
				   SCSI_ASC_INTERNAL_TARGET_FAILURE);
	}
	free(job);
	scsi_cmd_complete(cmd);
}

/* On the main thread, which owns the saved files: every page is saved
 * (SPC-5 §6.11), with the change applied. Saves are serialized here, so
 * the file always holds the latest saved values. */
static void mode_save_on_main(void *arg)
{
	struct mode_save_job *job = arg;
	struct scsi_lu *lu = job->cmd->lu;
	struct scsi_mode *m = lu->mode;

	pthread_mutex_lock(&lu->lock);
	for (unsigned i = 0; i < m->nr; i++)
		memcpy(job->image[i], mode_change_val(&job->ch, &m->pg[i], i),
		       m->pg[i].page->len);
	pthread_mutex_unlock(&lu->lock);
	job->result = mode_save_file(lu, job->image);
	if (job->result == 0)
		mode_apply(job->cmd, &job->ch, job->image);
	job->msg.fn = mode_save_done;
	job->msg.arg = job;
	reactor_post_msg(job->cmd->nexus->reactor, &job->msg);
}

static int mode_select(struct scsi_cmd *cmd)
{
	struct reactor *main_reactor = scsi_core_main_reactor();
	struct mode_save_job *job;
	struct mode_change ch;

	if (!(cmd->cdb[1] & MODE_SELECT_SP)) {
		if (mode_select_decode(cmd, &ch) == 0)
			mode_apply(cmd, &ch, NULL);
		return 0;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return 0;
	}
	if (mode_select_decode(cmd, &job->ch)) {
		free(job);
		return 0;
	}
	job->cmd = cmd;
	if (!main_reactor) { /* no main thread: this one stands in */
		mode_save_on_main(job);
		return -EINPROGRESS;
	}
	job->msg.fn = mode_save_on_main;
	job->msg.arg = job;
	reactor_post_msg(main_reactor, &job->msg);
	return -EINPROGRESS;
}

/* ---- the rows ---- */

const struct scsi_op spc_op_mode_sense6 = {
    .name = "MODE SENSE(6)",
    .opcode = 0x1a,
    .cdb_len = 6,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_ALUA_STANDBY | SCSI_OP_PR_READ,
    .max_data = MODE_DATA6_MAX,
    .parse = mode_sense_parse,
    .execute = mode_sense,
    .usage = {0x1a, 0x08, 0xff, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

const struct scsi_op spc_op_mode_sense10 = {
    .name = "MODE SENSE(10)",
    .opcode = 0x5a,
    .cdb_len = 10,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_ALUA_STANDBY | SCSI_OP_PR_READ,
    .max_data = MODE_DATA_MAX,
    .parse = mode_sense_parse,
    .execute = mode_sense,
    .usage = {0x5a, 0x18, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* PF, RTD and SP; the PARAMETER LIST LENGTH. SP=1 writes a file. */
const struct scsi_op spc_op_mode_select6 = {
    .name = "MODE SELECT(6)",
    .opcode = 0x15,
    .cdb_len = 6,
    .dir = SCSI_DIR_WRITE,
    .flags = SCSI_OP_ALUA_STANDBY | SCSI_OP_PR_WRITE,
    .parse = mode_select_parse,
    .execute = mode_select,
    .usage = {0x15, 0x13, 0x00, 0x00, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_FLUSH,
};

const struct scsi_op spc_op_mode_select10 = {
    .name = "MODE SELECT(10)",
    .opcode = 0x55,
    .cdb_len = 10,
    .dir = SCSI_DIR_WRITE,
    .flags = SCSI_OP_ALUA_STANDBY | SCSI_OP_PR_WRITE,
    .parse = mode_select_parse,
    .execute = mode_select,
    .usage = {0x55, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_FLUSH,
};
