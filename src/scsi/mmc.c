/*
 * The CD/DVD-ROM drive: multimedia device type (MMC-6) over a read-only
 * image (an ISO 9660 file) of 2048-byte blocks, one data track in one
 * complete session. Its opcode table and the commands of MMC-6 clause 6
 * it implements:
 *   READ CAPACITY, READ (10)/(12) through the backing store (as sbc.c's
 *   READ, with its helpers);
 *   GET CONFIGURATION with the features of clause 5: Profile List
 *   (CD-ROM and DVD-ROM), Core, Morphing, Removable Medium, Random
 *   Readable, CD Read and DVD Read;
 *   GET EVENT STATUS NOTIFICATION, polled only: the media class and the
 *   device busy class the Core feature's DBE promises;
 *   READ TOC/PMA/ATIP formats 0000b (TOC), 0001b (session information)
 *   and 0010b (full TOC);
 *   READ DISC INFORMATION (standard disc information), READ TRACK
 *   INFORMATION, READ DVD STRUCTURE (READ DISC STRUCTURE) formats 00h
 *   (physical format information) and FFh (the list);
 *   MECHANISM STATUS, SET CD SPEED (accepted, no effect);
 *   START STOP UNIT (LoEj: eject and load the medium) and PREVENT ALLOW
 *   MEDIUM REMOVAL, per I_T nexus as for the disk (the ITL's prevent
 *   flag, lu->nr_prevent, lu->medium_absent);
 *   mode pages 01h read/write error recovery and 2Ah MM capabilities and
 *   mechanical status (MMC-3's page, which Linux sr reads), and a general
 *   mode parameter block descriptor (SPC-5 general block descriptor) of
 * 2048-byte blocks. INQUIRY, REPORT LUNS, REPORT SUPPORTED OPERATION CODES and
 * TASK MANAGEMENT FUNCTIONS, REQUEST SENSE, TEST UNIT READY and MODE SENSE /
 * SELECT are spc.c's and mode.c's rows; RESERVE and RELEASE pr.c's. Writes
 * are not in the table: a CD-ROM has no WRITE, so an initiator gets
 * INVALID COMMAND OPERATION CODE.
 *
 * Media events (GET EVENT STATUS NOTIFICATION) are a short per-LU log
 * (under lu->lock) with a per-I_T_L cursor (itl->media_event_seen): each
 * nexus is told of each event once, whoever else polled first, as a
 * drive shared by several hosts must. A nexus that has not polled yet
 * is told NEW MEDIA once if a medium is in, as after power on.
 */
#include "scsi/mmc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bs/bs.h"
#include "scsi/device.h"
#include "scsi/pr.h"
#include "scsi/sbc.h"
#include "scsi/sense.h"
#include "scsi/ua.h"
#include "util/bytes.h"

#define MMC_BLOCK_SIZE	 2048u
#define MMC_VERSION_MMC6 0x04e0

/* A data track recorded uninterrupted, Q sub-channel mode 1 (ADR 1,
 * CONTROL 4). */
#define MMC_ADR_CONTROL_DATA 0x14
#define MMC_LEAD_OUT	     0xaa
#define MMC_MSF_OFFSET	     150 /* LBA 0 is 00:02:00 */

/* START STOP UNIT byte 4. */
#define MMC_SSU_LOEJ  0x02
#define MMC_SSU_START 0x01

/* Media event codes (MMC-6, GET EVENT STATUS NOTIFICATION). */
enum mmc_media_event {
	MMC_ME_NO_CHANGE = 0,
	MMC_ME_EJECT_REQUEST = 1,
	MMC_ME_NEW_MEDIA = 2,
	MMC_ME_MEDIA_REMOVAL = 3,
};

#define MMC_EVENTS_MAX 8 /* a nexus that falls further behind skips */

/* Per LU state (lu->dtype_priv), under lu->lock. */
struct mmc_lu {
	/* Sequence number of the newest media event; event s is
	 * events[s % MMC_EVENTS_MAX]. The first, 1, is the medium that
	 * was in when the LU was created. */
	uint32_t event_seq;
	uint8_t events[MMC_EVENTS_MAX];
	/* READs between their medium check and their completion (not under
	 * lock): a new store replaces the old one only at zero
	 * (mmc_medium_load). */
	atomic_uint reads;
};

/* ---- the medium ---- */

static bool mmc_medium_present(const struct scsi_lu *lu)
{
	return !atomic_load_explicit(&lu->medium_absent, memory_order_acquire);
}

uint16_t mmc_lu_profile(const struct scsi_lu *lu)
{
	if (!mmc_medium_present(lu))
		return MMC_PROFILE_NONE;
	if ((scsi_lu_blocks(lu) << lu->block_shift) > MMC_CD_MAX_BYTES)
		return MMC_PROFILE_DVD_ROM;
	return MMC_PROFILE_CD_ROM;
}

static bool mmc_lu_ready(const struct scsi_lu *lu, struct scsi_sense_info *si)
{
	if (mmc_medium_present(lu))
		return true;
	scsi_sense_info_init(si, SCSI_SK_NOT_READY,
			     SCSI_ASC_MEDIUM_NOT_PRESENT);
	return false;
}

/*
 * Logs a media event. Nexuses that have not polled yet start from the
 * event before it, so that they too are told of it. Caller holds
 * lu->lock.
 */
static void mmc_event_log_locked(struct scsi_lu *lu, enum mmc_media_event ev)
{
	struct mmc_lu *m = lu->dtype_priv;
	struct scsi_itl *itl;

	list_for_each_entry (itl, &lu->itl_list, lu_link) {
		if (!itl->media_event_seen)
			itl->media_event_seen = m->event_seq;
	}
	m->event_seq++;
	m->events[m->event_seq % MMC_EVENTS_MAX] = (uint8_t)ev;
}

int mmc_lu_eject(struct scsi_lu *lu, bool force)
{
	pthread_mutex_lock(&lu->lock);
	if (lu->nr_prevent && !force) {
		mmc_event_log_locked(lu, MMC_ME_EJECT_REQUEST);
		pthread_mutex_unlock(&lu->lock);
		return -EBUSY;
	}
	if (mmc_medium_present(lu)) {
		atomic_store_explicit(&lu->medium_absent, true,
				      memory_order_release);
		mmc_event_log_locked(lu, MMC_ME_MEDIA_REMOVAL);
	}
	pthread_mutex_unlock(&lu->lock);
	return 0;
}

void mmc_lu_load(struct scsi_lu *lu, const struct scsi_nexus *by)
{
	bool loaded = false;

	pthread_mutex_lock(&lu->lock);
	if (!mmc_medium_present(lu)) {
		atomic_store_explicit(&lu->medium_absent, false,
				      memory_order_release);
		mmc_event_log_locked(lu, MMC_ME_NEW_MEDIA);
		loaded = true;
	}
	pthread_mutex_unlock(&lu->lock);
	if (loaded)
		scsi_ua_establish_others(lu, by,
					 SCSI_ASC_MEDIUM_MAY_HAVE_CHANGED);
}

/* ---- READ CAPACITY, READ (10)/(12) ---- */

static int mmc_capacity_parse(struct scsi_cmd *cmd)
{
	cmd->cdb_xfer_len = 8;
	return 0;
}

static int mmc_capacity(struct scsi_cmd *cmd)
{
	uint64_t last = scsi_lu_blocks(cmd->lu) - 1;
	uint8_t d[8];

	put_be32(d, last >= UINT32_MAX ? UINT32_MAX : (uint32_t)last);
	put_be32(d + 4, cmd->lu->block_size);
	scsi_cmd_put_data(cmd, d, sizeof(d));
	return 0;
}

static int mmc_read10_parse(struct scsi_cmd *cmd)
{
	return sbc_set_range(cmd, get_be32(cmd->cdb + 2),
			     get_be16(cmd->cdb + 7), 7, true);
}

static int mmc_read12_parse(struct scsi_cmd *cmd)
{
	return sbc_set_range(cmd, get_be32(cmd->cdb + 2),
			     get_be32(cmd->cdb + 6), 6, true);
}

static void mmc_read_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;
	struct mmc_lu *m = cmd->lu->dtype_priv;

	atomic_fetch_sub(&m->reads, 1);
	if (req->result < 0)
		sbc_set_io_error(cmd, req);
	else
		cmd->data_len = cmd->xfer_len;
	scsi_cmd_complete(cmd);
}

static int mmc_read(struct scsi_cmd *cmd)
{
	uint32_t mask = cmd->lu->block_size - 1;

	/* Whole blocks covering what goes on the wire, as sbc.c's READ. */
	struct scsi_lu *lu = cmd->lu;
	struct mmc_lu *m = lu->dtype_priv;

	if (!cmd->xfer_len)
		return 0;
	/*
	 * Counted before the medium is looked at again (both sequentially
	 * consistent, as mmc_medium_load's side): either the store is
	 * replaced after this READ is done with it, or this READ sees the
	 * medium out, or the new one (whose size its range must fit).
	 */
	atomic_fetch_add(&m->reads, 1);
	if (atomic_load(&lu->medium_absent)) {
		atomic_fetch_sub(&m->reads, 1);
		scsi_cmd_set_sense(cmd, SCSI_SK_NOT_READY,
				   SCSI_ASC_MEDIUM_NOT_PRESENT);
		return 0;
	}
	if (scsi_cmd_check_lba(cmd, cmd->lba, cmd->nr_blocks) < 0) {
		atomic_fetch_sub(&m->reads, 1);
		return 0;
	}
	sbc_req_prep(cmd, BS_OP_READ, 0, cmd->lba << lu->block_shift,
		     (cmd->xfer_len + mask) & ~mask, cmd->buf, mmc_read_done);
	bs_submit(__atomic_load_n(&lu->bs, __ATOMIC_ACQUIRE), &cmd->bs);
	return -EINPROGRESS;
}

/* ---- addresses ---- */

/* LBA to minutes, seconds and frames (00:02:00 is LBA 0), saturated at the
 * largest MSF a byte of minutes holds (a DVD-sized image). */
static void mmc_msf(uint64_t lba, uint8_t msf[3])
{
	uint64_t f = lba + MMC_MSF_OFFSET;

	if (f >= 256ull * 60 * 75)
		f = 256ull * 60 * 75 - 1;
	msf[0] = (uint8_t)(f / (60 * 75));
	msf[1] = (uint8_t)(f / 75 % 60);
	msf[2] = (uint8_t)(f % 75);
}

/* A 4-byte address field: the LBA, or 00h M S F. */
static void mmc_put_addr(uint8_t *p, uint64_t lba, bool msf)
{
	if (msf) {
		p[0] = 0;
		mmc_msf(lba, p + 1);
	} else {
		put_be32(p, (uint32_t)lba);
	}
}

/* ---- READ TOC/PMA/ATIP ---- */

enum mmc_toc_format {
	MMC_TOC_FORMATTED = 0,
	MMC_TOC_SESSION = 1,
	MMC_TOC_FULL = 2,
};

#define MMC_TOC_MSF 0x02 /* byte 1 */

/* FORMAT, or for old initiators (Linux sr's multisession query) the
 * vendor bits 7-6 of the CONTROL byte when FORMAT is zero (SFF-8020). */
static unsigned mmc_toc_format(const struct scsi_cmd *cmd)
{
	unsigned format = cmd->cdb[2] & 0x0f;

	return format ? format : cmd->cdb[9] >> 6;
}

static int mmc_toc_parse(struct scsi_cmd *cmd)
{
	uint8_t track = cmd->cdb[6];

	switch (mmc_toc_format(cmd)) {
	case MMC_TOC_FORMATTED:
		/* Track 1 and the lead-out start at or after 0 and 1. */
		if (track > 1 && track != MMC_LEAD_OUT) {
			scsi_cmd_set_invalid_field(cmd, 6, 7);
			return -EINVAL;
		}
		break;
	case MMC_TOC_SESSION:
		break; /* TRACK/SESSION NUMBER is reserved */
	case MMC_TOC_FULL:
		if (track > 1) { /* the session number: one session */
			scsi_cmd_set_invalid_field(cmd, 6, 7);
			return -EINVAL;
		}
		break;
	default: /* PMA, ATIP, CD-TEXT: a pressed disc has none */
		if (cmd->cdb[2] & 0x0f)
			scsi_cmd_set_invalid_field(cmd, 2, 3);
		else
			scsi_cmd_set_invalid_field(cmd, 9, 7);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 7);
	return 0;
}

/* Format 0000b: the track descriptors from the requested track on, then
 * the lead-out. */
static size_t mmc_toc_formatted(const struct scsi_cmd *cmd, uint8_t *d)
{
	bool msf = cmd->cdb[1] & MMC_TOC_MSF;
	size_t len = 4;

	d[2] = 1; /* FIRST TRACK NUMBER */
	d[3] = 1; /* LAST TRACK NUMBER */
	if (cmd->cdb[6] <= 1) {
		d[len + 1] = MMC_ADR_CONTROL_DATA;
		d[len + 2] = 1;
		mmc_put_addr(d + len + 4, 0, msf);
		len += 8;
	}
	d[len + 1] = MMC_ADR_CONTROL_DATA;
	d[len + 2] = MMC_LEAD_OUT;
	mmc_put_addr(d + len + 4, scsi_lu_blocks(cmd->lu), msf);
	return len + 8;
}

/* Format 0001b: the first track of the last complete session. */
static size_t mmc_toc_session(const struct scsi_cmd *cmd, uint8_t *d)
{
	d[2] = 1; /* FIRST COMPLETE SESSION NUMBER */
	d[3] = 1; /* LAST COMPLETE SESSION NUMBER */
	d[5] = MMC_ADR_CONTROL_DATA;
	d[6] = 1;
	mmc_put_addr(d + 8, 0, cmd->cdb[1] & MMC_TOC_MSF);
	return 12;
}

/* One descriptor of the full TOC (11 bytes): POINT and its PMIN, PSEC,
 * PFRAME; the times in the lead-in are zero. */
static size_t mmc_toc_point(uint8_t *p, uint8_t point, const uint8_t pm[3])
{
	p[0] = 1; /* SESSION NUMBER */
	p[1] = MMC_ADR_CONTROL_DATA;
	p[3] = point;
	memcpy(p + 8, pm, 3);
	return 11;
}

/* Format 0010b: A0h (first track, disc type CD-ROM), A1h (last track),
 * A2h (lead-out start) and track 1, in binary MSF whatever MSF says. */
static size_t mmc_toc_full(const struct scsi_cmd *cmd, uint8_t *d)
{
	const uint8_t first[3] = {1, 0x00, 0}, last[3] = {1, 0, 0};
	uint8_t lead_out[3], track1[3];
	size_t len = 4;

	mmc_msf(scsi_lu_blocks(cmd->lu), lead_out);
	mmc_msf(0, track1);
	d[2] = 1;
	d[3] = 1;
	len += mmc_toc_point(d + len, 0xa0, first);
	len += mmc_toc_point(d + len, 0xa1, last);
	len += mmc_toc_point(d + len, 0xa2, lead_out);
	len += mmc_toc_point(d + len, 1, track1);
	return len;
}

static int mmc_toc(struct scsi_cmd *cmd)
{
	uint8_t d[64];
	size_t len;

	memset(d, 0, sizeof(d));
	switch (mmc_toc_format(cmd)) {
	case MMC_TOC_FORMATTED:
		len = mmc_toc_formatted(cmd, d);
		break;
	case MMC_TOC_SESSION:
		len = mmc_toc_session(cmd, d);
		break;
	default:
		len = mmc_toc_full(cmd, d);
		break;
	}
	put_be16(d, (uint16_t)(len - 2)); /* TOC DATA LENGTH */
	scsi_cmd_put_data(cmd, d, len);
	return 0;
}

/* ---- GET CONFIGURATION ---- */

/* Feature descriptor header byte 2 (MMC-6 clause 5). */
#define MMC_FEAT_CURRENT    0x01
#define MMC_FEAT_PERSISTENT 0x02
#define MMC_FEAT_VERSION(v) ((uint8_t)((v) << 2))

/* Physical interface standard of the Core feature: SCSI family (the
 * drive speaks SAM over iSCSI; 2 would claim ATAPI). */
#define MMC_INTERFACE_SCSI 0x00000001u

/* RT field of GET CONFIGURATION. */
enum mmc_config_rt {
	MMC_RT_ALL = 0,
	MMC_RT_CURRENT = 1,
	MMC_RT_ONE = 2,
};

struct mmc_feature {
	uint16_t code;
	/* Writes the whole descriptor (header included) for a medium of
	 * the profile; returns its length. */
	size_t (*build)(const struct scsi_lu *lu, uint16_t profile,
			uint8_t *out);
};

static size_t mmc_feature_header(uint8_t *p, uint16_t code, unsigned version,
				 uint8_t flags, uint8_t add_len)
{
	put_be16(p, code);
	p[2] = MMC_FEAT_VERSION(version) | flags;
	p[3] = add_len;
	return 4u + add_len;
}

static uint8_t mmc_current_if(bool cond)
{
	return cond ? MMC_FEAT_CURRENT : 0;
}

/* 0000h: both profiles, the medium's flagged current. */
static size_t mmc_feat_profiles(const struct scsi_lu *lu, uint16_t profile,
				uint8_t *p)
{
	const uint16_t all[] = {MMC_PROFILE_DVD_ROM, MMC_PROFILE_CD_ROM};

	for (unsigned i = 0; i < 2; i++) {
		put_be16(p + 4 + 4 * i, all[i]);
		p[4 + 4 * i + 2] = all[i] == profile ? 0x01 : 0; /* CurrentP */
	}
	return mmc_feature_header(p, 0x0000, 0,
				  MMC_FEAT_PERSISTENT | MMC_FEAT_CURRENT, 8);
}

/* 0001h Core: DBE (the device busy event class is reported) and INQ2
 * (INQUIRY as SPC-3 and later define it). */
static size_t mmc_feat_core(const struct scsi_lu *lu, uint16_t profile,
			    uint8_t *p)
{
	put_be32(p + 4, MMC_INTERFACE_SCSI);
	p[8] = 0x02 | 0x01; /* INQ2, DBE */
	return mmc_feature_header(p, 0x0001, 2,
				  MMC_FEAT_PERSISTENT | MMC_FEAT_CURRENT, 8);
}

/* 0002h Morphing: events are polled (ASYNC 0), no operational change
 * events (OCEvent 0). */
static size_t mmc_feat_morphing(const struct scsi_lu *lu, uint16_t profile,
				uint8_t *p)
{
	return mmc_feature_header(p, 0x0002, 1,
				  MMC_FEAT_PERSISTENT | MMC_FEAT_CURRENT, 4);
}

/* 0003h Removable Medium: a tray (001b) that loads and ejects, no
 * prevent jumper (Pvnt Jmpr 1), lockable (PREVENT ALLOW MEDIUM REMOVAL). */
static size_t mmc_feat_removable(const struct scsi_lu *lu, uint16_t profile,
				 uint8_t *p)
{
	p[4] = (0x1 << 5) | 0x10 | 0x08 | 0x04 | 0x01;
	return mmc_feature_header(p, 0x0003, 2,
				  MMC_FEAT_PERSISTENT | MMC_FEAT_CURRENT, 4);
}

/* 0010h Random Readable: 2048-byte blocks each readable alone (BLOCKING
 * 1), the error recovery page present (PP). */
static size_t mmc_feat_random_readable(const struct scsi_lu *lu,
				       uint16_t profile, uint8_t *p)
{
	put_be32(p + 4, lu->block_size);
	put_be16(p + 8, 1);
	p[10] = 0x01; /* PP */
	return mmc_feature_header(
	    p, 0x0010, 0, mmc_current_if(profile != MMC_PROFILE_NONE), 8);
}

/* 001Eh CD Read: no CD-Text, C2 pointers or digital audio. */
static size_t mmc_feat_cd_read(const struct scsi_lu *lu, uint16_t profile,
			       uint8_t *p)
{
	return mmc_feature_header(
	    p, 0x001e, 2, mmc_current_if(profile == MMC_PROFILE_CD_ROM), 4);
}

/* 001Fh DVD Read: single layer DVD-ROM only (MULTI110, DUAL-R and
 * DUAL-RW 0). */
static size_t mmc_feat_dvd_read(const struct scsi_lu *lu, uint16_t profile,
				uint8_t *p)
{
	return mmc_feature_header(
	    p, 0x001f, 2, mmc_current_if(profile == MMC_PROFILE_DVD_ROM), 4);
}

static const struct mmc_feature mmc_features[] = {
    {0x0000, mmc_feat_profiles},	{0x0001, mmc_feat_core},
    {0x0002, mmc_feat_morphing},	{0x0003, mmc_feat_removable},
    {0x0010, mmc_feat_random_readable}, {0x001e, mmc_feat_cd_read},
    {0x001f, mmc_feat_dvd_read},
};

#define MMC_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int mmc_config_parse(struct scsi_cmd *cmd)
{
	if ((cmd->cdb[1] & 0x03) == 0x03) { /* RT 11b is reserved */
		scsi_cmd_set_invalid_field(cmd, 1, 1);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 7);
	return 0;
}

static int mmc_config(struct scsi_cmd *cmd)
{
	enum mmc_config_rt rt = cmd->cdb[1] & 0x03;
	uint16_t start = get_be16(cmd->cdb + 2);
	uint16_t profile = mmc_lu_profile(cmd->lu);
	struct scsi_data_in o;
	uint8_t hdr[8], f[16];

	memset(hdr, 0, sizeof(hdr));
	put_be16(hdr + 6, profile); /* CURRENT PROFILE */
	scsi_data_in_init(&o, cmd);
	scsi_data_in_put(&o, hdr, sizeof(hdr));
	for (unsigned i = 0; i < MMC_COUNT(mmc_features); i++) {
		const struct mmc_feature *ft = &mmc_features[i];
		size_t n;

		if (rt == MMC_RT_ONE ? ft->code != start : ft->code < start)
			continue;
		memset(f, 0, sizeof(f));
		n = ft->build(cmd->lu, profile, f);
		if (rt == MMC_RT_CURRENT && !(f[2] & MMC_FEAT_CURRENT))
			continue;
		scsi_data_in_put(&o, f, n);
	}
	/* DATA LENGTH: everything after itself, whatever fits. */
	put_be32(hdr, (uint32_t)(o.len - 4));
	if (o.cap)
		memcpy(o.buf, hdr, o.cap < 4 ? o.cap : 4);
	scsi_data_in_finish(cmd, &o);
	return 0;
}

/* ---- GET EVENT STATUS NOTIFICATION ---- */

#define MMC_GESN_POLLED	      0x01
#define MMC_EVENT_CLASS_MEDIA 4
#define MMC_EVENT_CLASS_BUSY  6
#define MMC_GESN_NEA	      0x80
#define MMC_GESN_SUPPORTED                                                     \
	((1u << MMC_EVENT_CLASS_MEDIA) | (1u << MMC_EVENT_CLASS_BUSY))

/* Media status byte of the media event descriptor. */
#define MMC_MS_PRESENT	 0x02
#define MMC_MS_TRAY_OPEN 0x01

static int mmc_gesn_parse(struct scsi_cmd *cmd)
{
	/* Asynchronous notification is not supported (Morphing ASYNC 0). */
	if (!(cmd->cdb[1] & MMC_GESN_POLLED)) {
		scsi_cmd_set_invalid_field(cmd, 1, 0);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 7);
	return 0;
}

/* The next media event for the command's nexus, which it has now been
 * told of. */
static enum mmc_media_event mmc_gesn_next_event(struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->lu;
	struct mmc_lu *m = lu->dtype_priv;
	struct scsi_itl *itl = cmd->itl;
	enum mmc_media_event ev = MMC_ME_NO_CHANGE;

	pthread_mutex_lock(&lu->lock);
	if (!itl->media_event_seen) {
		/* First poll of this nexus: what it finds in the tray. */
		itl->media_event_seen = m->event_seq;
		if (mmc_medium_present(lu))
			ev = MMC_ME_NEW_MEDIA;
	} else if (itl->media_event_seen != m->event_seq) {
		uint32_t next = itl->media_event_seen + 1;

		if (m->event_seq - itl->media_event_seen > MMC_EVENTS_MAX)
			next = m->event_seq - MMC_EVENTS_MAX + 1;
		ev = m->events[next % MMC_EVENTS_MAX];
		itl->media_event_seen = next;
	}
	pthread_mutex_unlock(&lu->lock);
	return ev;
}

static int mmc_gesn(struct scsi_cmd *cmd)
{
	uint8_t request = cmd->cdb[4];
	uint8_t d[8];
	size_t len = 4;

	memset(d, 0, sizeof(d));
	d[3] = MMC_GESN_SUPPORTED;
	/* The lowest class asked for and supported; media first. */
	if (request & (1u << MMC_EVENT_CLASS_MEDIA)) {
		d[2] = MMC_EVENT_CLASS_MEDIA;
		d[4] = (uint8_t)mmc_gesn_next_event(cmd);
		d[5] = mmc_medium_present(cmd->lu) ? MMC_MS_PRESENT
						   : MMC_MS_TRAY_OPEN;
		len = 8;
	} else if (request & (1u << MMC_EVENT_CLASS_BUSY)) {
		/* NoEvent, not busy: every command completes at once. */
		d[2] = MMC_EVENT_CLASS_BUSY;
		len = 8;
	} else {
		d[2] = MMC_GESN_NEA;
	}
	put_be16(d, (uint16_t)(len - 2)); /* EVENT DESCRIPTOR LENGTH */
	scsi_cmd_put_data(cmd, d, len);
	return 0;
}

/* ---- READ DISC INFORMATION, READ TRACK INFORMATION ---- */

static int mmc_disc_info_parse(struct scsi_cmd *cmd)
{
	/* DATA TYPE: only standard disc information (000b). */
	if (cmd->cdb[1] & 0x07) {
		scsi_cmd_set_invalid_field(cmd, 1, 2);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 7);
	return 0;
}

/* A finalised disc: one complete session holding track 1. */
static int mmc_disc_info(struct scsi_cmd *cmd)
{
	uint8_t d[34];

	memset(d, 0, sizeof(d));
	put_be16(d, sizeof(d) - 2);
	d[2] = (0x3 << 2) | 0x2; /* last session complete, disc complete */
	d[3] = 1;		 /* FIRST TRACK NUMBER ON DISC */
	d[4] = 1;		 /* NUMBER OF SESSIONS (LSB) */
	d[5] = 1;		 /* FIRST TRACK NUMBER IN LAST SESSION */
	d[6] = 1;		 /* LAST TRACK NUMBER IN LAST SESSION */
	d[8] = 0x00;		 /* DISC TYPE: CD-DA or CD-ROM */
	/* No lead-in or lead-out left to write on a complete disc. */
	put_be32(d + 16, 0xffffffffu);
	put_be32(d + 20, 0xffffffffu);
	scsi_cmd_put_data(cmd, d, sizeof(d));
	return 0;
}

enum mmc_track_address {
	MMC_TRACK_BY_LBA = 0,
	MMC_TRACK_BY_NUMBER = 1,
	MMC_TRACK_BY_SESSION = 2,
};

static int mmc_track_info_parse(struct scsi_cmd *cmd)
{
	uint32_t addr = get_be32(cmd->cdb + 2);

	switch (cmd->cdb[1] & 0x03) {
	case MMC_TRACK_BY_LBA:
		/* The lead-out and beyond belong to no track. */
		if (addr >= scsi_lu_blocks(cmd->lu)) {
			scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
					   SCSI_ASC_LBA_OUT_OF_RANGE);
			return -ERANGE;
		}
		break;
	case MMC_TRACK_BY_NUMBER:
	case MMC_TRACK_BY_SESSION:
		/* Track 1 in session 1, nothing else (no lead-in track 0,
		 * no invisible track FFh on a complete disc). */
		if (addr != 1) {
			scsi_cmd_set_invalid_field(cmd, 2, 7);
			return -EINVAL;
		}
		break;
	default:
		scsi_cmd_set_invalid_field(cmd, 1, 1);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 7);
	return 0;
}

static int mmc_track_info(struct scsi_cmd *cmd)
{
	uint64_t blocks = scsi_lu_blocks(cmd->lu);
	uint8_t d[48];

	memset(d, 0, sizeof(d));
	put_be16(d, sizeof(d) - 2);
	d[2] = 1;    /* TRACK NUMBER (LSB) */
	d[3] = 1;    /* SESSION NUMBER (LSB) */
	d[5] = 0x04; /* TRACK MODE: data, recorded uninterrupted */
	d[6] = 0x01; /* DATA MODE: mode 1 */
	/* TRACK START ADDRESS 0; no next writable address, no free blocks. */
	if (mmc_lu_profile(cmd->lu) == MMC_PROFILE_DVD_ROM)
		put_be32(d + 20, 16); /* BLOCKING FACTOR: an ECC block */
	put_be32(d + 24, (uint32_t)(blocks > UINT32_MAX ? UINT32_MAX : blocks));
	scsi_cmd_put_data(cmd, d, sizeof(d));
	return 0;
}

/* ---- READ DVD STRUCTURE ---- */

#define MMC_DVD_PHYSICAL     0x00
#define MMC_DVD_LIST	     0xff
#define MMC_DVD_PHYSICAL_LEN (4 + 2048)
#define MMC_DVD_LIST_LEN     (4 + 2 * 4)
/* First physical sector of the data area of a DVD-ROM. */
#define MMC_DVD_DATA_START 0x030000u

static int mmc_dvd_structure_parse(struct scsi_cmd *cmd)
{
	uint8_t format = cmd->cdb[7];

	if (cmd->cdb[1] & 0x0f) { /* MEDIA TYPE: DVD (0000b) only */
		scsi_cmd_set_invalid_field(cmd, 1, 3);
		return -EINVAL;
	}
	if (format != MMC_DVD_PHYSICAL && format != MMC_DVD_LIST) {
		scsi_cmd_set_invalid_field(cmd, 7, 7);
		return -EINVAL;
	}
	if (format == MMC_DVD_PHYSICAL && cmd->cdb[6]) { /* one layer */
		scsi_cmd_set_invalid_field(cmd, 6, 7);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 8);
	return 0;
}

/* Format 00h: physical format information of a single layer 120 mm
 * DVD-ROM whose data area is the image. */
static size_t mmc_dvd_physical(const struct scsi_lu *lu, uint8_t *d)
{
	uint64_t blocks = scsi_lu_blocks(lu);
	uint8_t *p = d + 4;

	p[0] = 0x01; /* BOOK TYPE DVD-ROM, PART VERSION 1 */
	p[1] = 0x02; /* DISC SIZE 120 mm, MAXIMUM RATE 10.08 Mbps */
	p[2] = 0x01; /* one layer, parallel track path, embossed */
	p[3] = 0x00; /* 0.267 um/bit, 0.74 um/track */
	put_be32(p + 4, MMC_DVD_DATA_START);
	put_be32(p + 8, (uint32_t)(MMC_DVD_DATA_START + blocks - 1));
	return MMC_DVD_PHYSICAL_LEN;
}

/* Format FFh: the structures this drive reads (RDS). */
static size_t mmc_dvd_list(uint8_t *d)
{
	d[4] = MMC_DVD_PHYSICAL;
	d[5] = 0x40; /* RDS */
	put_be16(d + 6, MMC_DVD_PHYSICAL_LEN);
	d[8] = MMC_DVD_LIST;
	d[9] = 0x40;
	put_be16(d + 10, MMC_DVD_LIST_LEN);
	return MMC_DVD_LIST_LEN;
}

static int mmc_dvd_structure(struct scsi_cmd *cmd)
{
	uint8_t d[MMC_DVD_PHYSICAL_LEN];
	size_t len;

	if (mmc_lu_profile(cmd->lu) != MMC_PROFILE_DVD_ROM) {
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_INCOMPATIBLE_MEDIUM);
		return 0;
	}
	memset(d, 0, sizeof(d));
	if (cmd->cdb[7] == MMC_DVD_PHYSICAL)
		len = mmc_dvd_physical(cmd->lu, d);
	else
		len = mmc_dvd_list(d);
	put_be16(d, (uint16_t)(len - 2)); /* DATA LENGTH */
	scsi_cmd_put_data(cmd, d, len);
	return 0;
}

/* ---- MECHANISM STATUS, SET CD SPEED ---- */

static int mmc_mech_status_parse(struct scsi_cmd *cmd)
{
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 8);
	return 0;
}

/* No changer: idle, slot 0, no slot table; the tray is open while the
 * medium is out. */
static int mmc_mech_status(struct scsi_cmd *cmd)
{
	uint8_t d[8];

	memset(d, 0, sizeof(d));
	if (!mmc_medium_present(cmd->lu))
		d[1] = 0x10; /* DOOR OPEN */
	scsi_cmd_put_data(cmd, d, sizeof(d));
	return 0;
}

static int mmc_set_speed_parse(struct scsi_cmd *cmd)
{
	/* ROTATION CONTROL: CLV (00b) or CAV (01b); the rest reserved. */
	if ((cmd->cdb[1] & 0x03) > 1) {
		scsi_cmd_set_invalid_field(cmd, 1, 1);
		return -EINVAL;
	}
	return 0;
}

static int mmc_set_speed(struct scsi_cmd *cmd)
{
	return 0; /* the image reads as fast as it reads */
}

/* ---- START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL ---- */

static int mmc_start_stop_parse(struct scsi_cmd *cmd)
{
	/* POWER CONDITION: START_VALID, ACTIVE, IDLE, STANDBY, SLEEP,
	 * LU_CONTROL, FORCE_IDLE_0, FORCE_STANDBY_0 (MMC-6);
	 * every one is reached at once and changes nothing. */
	static const uint16_t valid = (1u << 0x0) | (1u << 0x1) | (1u << 0x2) |
				      (1u << 0x3) | (1u << 0x5) | (1u << 0x7) |
				      (1u << 0xa) | (1u << 0xb);

	if (!(valid & (1u << (cmd->cdb[4] >> 4)))) {
		scsi_cmd_set_invalid_field(cmd, 4, 7);
		return -EINVAL;
	}
	return 0;
}

static int mmc_start_stop(struct scsi_cmd *cmd)
{
	uint8_t b4 = cmd->cdb[4];

	/* LoEj acts with POWER CONDITION 0h only; IMMED changes nothing. */
	if ((b4 >> 4) || !(b4 & MMC_SSU_LOEJ))
		return 0;
	if (b4 & MMC_SSU_START) {
		mmc_lu_load(cmd->lu, cmd->nexus);
		return 0;
	}
	if (mmc_lu_eject(cmd->lu, false) == -EBUSY)
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
	return 0;
}

/*
 * PREVENT 01b locks the tray for this nexus, 00b unlocks it. The
 * persistent prevention (10b, 11b) only changes what a press of the
 * drive's eject button does; this drive has none, so it is accepted and
 * changes nothing.
 */
static int mmc_prevent_allow(struct scsi_cmd *cmd)
{
	uint8_t prevent = cmd->cdb[4] & 0x03;

	if (prevent <= 1)
		scsi_itl_set_prevent(cmd->itl, prevent);
	return 0;
}

/* ---- mode parameters ---- */

/* General mode parameter block descriptor: DENSITY CODE 0, the number
 * of blocks (0: too many to say), BLOCK LENGTH 2048. No long form. */
static size_t mmc_mode_block_descriptor(const struct scsi_lu *lu, bool long_lba,
					uint8_t *d)
{
	uint64_t blocks = scsi_lu_blocks(lu);

	put_be24(d + 1, blocks > 0xffffff ? 0 : (uint32_t)blocks);
	put_be24(d + 5, lu->block_size);
	return 8;
}

/* 01h: nothing to tune; errors are reported as they happen. */
static void mmc_mode_error_recovery(const struct scsi_lu *lu,
				    enum scsi_mode_pc pc, uint8_t *p)
{
	p[0] = 0x01;
	p[1] = 0x0a;
}

#define MMC_CAP_LOCK_STATE 0x02	      /* byte 6 of page 2Ah */
#define MMC_SPEED_KBS	   (48 * 176) /* 48x CD */

/* 2Ah MM capabilities and mechanical status (the MMC-3 page of 14h
 * bytes Linux sr reads): reads CD-R, CD-RW, DVD-ROM and DVD-R media,
 * writes none; a tray that ejects and locks. */
static void mmc_mode_capabilities(const struct scsi_lu *lu,
				  enum scsi_mode_pc pc, uint8_t *p)
{
	p[0] = 0x2a;
	p[1] = 0x14;
	if (pc == SCSI_MODE_PC_CHANGEABLE)
		return;
	p[2] = 0x10 | 0x08 | 0x02 | 0x01; /* DVD-R, DVD-ROM, CD-RW, CD-R */
	p[4] = 0x40;			  /* multi-session */
	p[6] = (0x1 << 5) | 0x08 | 0x01;  /* tray, Eject, Lock */
	put_be16(p + 8, MMC_SPEED_KBS);	  /* MAXIMUM READ SPEED */
	put_be16(p + 14, MMC_SPEED_KBS);  /* CURRENT READ SPEED */
}

/* LOCK STATE: whether some nexus prevents removal now. */
static void mmc_mode_capabilities_current(const struct scsi_lu *lu, uint8_t *p)
{
	if (lu->nr_prevent)
		p[6] |= MMC_CAP_LOCK_STATE;
	else
		p[6] &= (uint8_t)~MMC_CAP_LOCK_STATE;
}

static const struct scsi_mode_page mmc_mode_pages[] = {
    {.code = 0x01, .len = 12, .build = mmc_mode_error_recovery},
    {.code = 0x2a,
     .len = 22,
     .build = mmc_mode_capabilities,
     .sense_current = mmc_mode_capabilities_current},
};

/* ---- LU state ---- */

/* A CD/DVD: 2048-byte blocks, read-only and removable by nature, no
 * provisioning and no physical block of its own. */
static int mmc_check_params(struct scsi_lu_params *p, const struct bs_ops *ops,
			    char *err, size_t errlen)
{
	if (!p->block_size)
		p->block_size = MMC_BLOCK_SIZE;
	if (p->block_size != MMC_BLOCK_SIZE) {
		snprintf(err, errlen,
			 "block size %u is not supported for a cd; a CD/DVD "
			 "has 2048-byte blocks: give 2048 or leave it out",
			 p->block_size);
		return -EINVAL;
	}
	if (p->thin) {
		snprintf(err, errlen,
			 "a cd is a read-only medium and cannot be thin; drop "
			 "the thin option");
		return -EINVAL;
	}
	if (p->physical_block_size) {
		snprintf(err, errlen,
			 "a cd has no physical block size of its own; drop "
			 "the physical block size option");
		return -EINVAL;
	}
	if (p->size % MMC_BLOCK_SIZE) {
		snprintf(err, errlen,
			 "size %" PRIu64 " is not a multiple of a cd's "
			 "2048-byte blocks; use %" PRIu64 " or %" PRIu64,
			 p->size, p->size - p->size % MMC_BLOCK_SIZE,
			 p->size - p->size % MMC_BLOCK_SIZE + MMC_BLOCK_SIZE);
		return -EINVAL;
	}
	p->readonly = true;
	p->removable = true; /* INQUIRY RMB */
	return 0;
}

/* lun eject (device.h medium_eject): as a START STOP UNIT of no nexus. */
static int mmc_medium_eject(struct scsi_lu *lu, bool force)
{
	return mmc_lu_eject(lu, force);
}

/*
 * lun load (device.h medium_load): with bs, the new image replaces the
 * store of an ejected medium once no READ uses the old one (they take
 * microseconds to milliseconds; waited for at most 10 s), then the tray
 * closes on it: NEW MEDIA, MEDIUM MAY HAVE CHANGED.
 */
static int mmc_medium_load(struct scsi_lu *lu, struct bs_dev *bs,
			   uint64_t nr_blocks, struct bs_dev **old)
{
	struct mmc_lu *m = lu->dtype_priv;

	*old = NULL;
	if (bs) {
		struct timespec ms = {.tv_nsec = 1000000};
		unsigned waited = 0;

		if (!atomic_load(&lu->medium_absent))
			return -EBUSY;
		atomic_thread_fence(memory_order_seq_cst);
		while (atomic_load(&m->reads)) {
			if (++waited > 10000)
				return -ETIMEDOUT;
			nanosleep(&ms, NULL);
		}
		*old = lu->bs;
		atomic_store(&lu->nr_blocks, nr_blocks);
		__atomic_store_n(&lu->bs, bs, __ATOMIC_RELEASE);
	}
	mmc_lu_load(lu, NULL);
	return 0;
}

static int mmc_lu_init(struct scsi_lu *lu, char *err, size_t errlen)
{
	struct mmc_lu *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	/* The medium the LU was created with was loaded. */
	m->event_seq = 1;
	m->events[1] = MMC_ME_NEW_MEDIA;
	lu->dtype_priv = m;
	return 0;
}

static void mmc_lu_exit(struct scsi_lu *lu)
{
	free(lu->dtype_priv);
	lu->dtype_priv = NULL;
}

/* ---- the opcode table ---- */

/*
 * Rows (device.h); the last arguments are the CDB usage data. READ
 * (10)/(12) examine DPO and FUA (hints always satisfied: the medium is
 * read either way) and ignore the obsolete RelAdr and the Streaming bit.
 */
#define MMC_DATA_READ (SCSI_OP_BLOCKS | SCSI_OP_MEDIUM | SCSI_OP_PR_READ)
#define MMC_MEMORY    SCSI_TIMEOUTS_MEMORY
#define MMC_IO	      SCSI_TIMEOUTS_IO

static SCSI_OP_ROW(mmc_op_start_stop, "START STOP UNIT", 0x1b, 6, SCSI_DIR_NONE,
		   SCSI_OP_PR_WRITE, mmc_start_stop_parse, mmc_start_stop,
		   MMC_MEMORY, 0x1b, 0x01, 0x00, 0x00, 0xf3, 0x05);
static SCSI_OP_ROW(mmc_op_prevent_allow, "PREVENT ALLOW MEDIUM REMOVAL", 0x1e,
		   6, SCSI_DIR_NONE, SCSI_OP_PR_WRITE, NULL, mmc_prevent_allow,
		   MMC_MEMORY, 0x1e, 0x00, 0x00, 0x00, 0x03, 0x05);
static SCSI_OP_ROW(mmc_op_read10, "READ(10)", 0x28, 10, SCSI_DIR_READ,
		   MMC_DATA_READ, mmc_read10_parse, mmc_read, MMC_IO, 0x28,
		   0x18, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x05);
static SCSI_OP_ROW(mmc_op_read12, "READ(12)", 0xa8, 12, SCSI_DIR_READ,
		   MMC_DATA_READ, mmc_read12_parse, mmc_read, MMC_IO, 0xa8,
		   0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
		   0x05);
/* MSF, FORMAT, TRACK/SESSION NUMBER, ALLOCATION LENGTH and the old
 * format bits of the CONTROL byte. */
static SCSI_OP_ROW(mmc_op_read_toc, "READ TOC/PMA/ATIP", 0x43, 10,
		   SCSI_DIR_READ, SCSI_OP_MEDIUM | SCSI_OP_PR_READ,
		   mmc_toc_parse, mmc_toc, MMC_MEMORY, 0x43, 0x02, 0x0f, 0x00,
		   0x00, 0x00, 0xff, 0xff, 0xff, 0xc5);
static SCSI_OP_ROW(mmc_op_disc_info, "READ DISC INFORMATION", 0x51, 10,
		   SCSI_DIR_READ, SCSI_OP_MEDIUM | SCSI_OP_PR_READ,
		   mmc_disc_info_parse, mmc_disc_info, MMC_MEMORY, 0x51, 0x07,
		   0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x05);
static SCSI_OP_ROW(mmc_op_track_info, "READ TRACK INFORMATION", 0x52, 10,
		   SCSI_DIR_READ, SCSI_OP_MEDIUM | SCSI_OP_PR_READ,
		   mmc_track_info_parse, mmc_track_info, MMC_MEMORY, 0x52, 0x03,
		   0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x05);
static SCSI_OP_ROW(mmc_op_dvd_structure, "READ DVD STRUCTURE", 0xad, 12,
		   SCSI_DIR_READ, SCSI_OP_MEDIUM | SCSI_OP_PR_READ,
		   mmc_dvd_structure_parse, mmc_dvd_structure, MMC_MEMORY, 0xad,
		   0x0f, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00,
		   0x05);
/* ROTATION CONTROL; the speeds are hints, always satisfied. */
static SCSI_OP_ROW(mmc_op_set_speed, "SET CD SPEED", 0xbb, 12, SCSI_DIR_NONE,
		   SCSI_OP_PR_READ, mmc_set_speed_parse, mmc_set_speed,
		   MMC_MEMORY, 0xbb, 0x03, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
		   0x00, 0x00, 0x00, 0x05);

static const struct scsi_op mmc_op_capacity = {
    .name = "READ CAPACITY",
    .opcode = 0x25,
    .cdb_len = 10,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_MEDIUM | SCSI_OP_PR_ALLOW,
    .max_data = 8,
    .parse = mmc_capacity_parse,
    .execute = mmc_capacity,
    /* The obsolete RelAdr, LOGICAL BLOCK ADDRESS and PMI are ignored. */
    .usage = {0x25, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* Answered while a unit attention is pending, as MMC drives do (hosts
 * poll it to learn of media changes). RT, STARTING FEATURE NUMBER. */
static const struct scsi_op mmc_op_get_config = {
    .name = "GET CONFIGURATION",
    .opcode = 0x46,
    .cdb_len = 10,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_UA_OK | SCSI_OP_PR_ALLOW,
    .max_data = 128,
    .parse = mmc_config_parse,
    .execute = mmc_config,
    .usage = {0x46, 0x03, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* POLLED, NOTIFICATION CLASS REQUEST. */
static const struct scsi_op mmc_op_gesn = {
    .name = "GET EVENT STATUS NOTIFICATION",
    .opcode = 0x4a,
    .cdb_len = 10,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_UA_OK | SCSI_OP_PR_ALLOW,
    .max_data = 8,
    .parse = mmc_gesn_parse,
    .execute = mmc_gesn,
    .usage = {0x4a, 0x01, 0x00, 0x00, 0xff, 0x00, 0x00, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

static const struct scsi_op mmc_op_mech_status = {
    .name = "MECHANISM STATUS",
    .opcode = 0xbd,
    .cdb_len = 12,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_PR_ALLOW,
    .max_data = 8,
    .parse = mmc_mech_status_parse,
    .execute = mmc_mech_status,
    .usage = {0xbd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00,
	      0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* clang-format off */
static const struct scsi_op *const mmc_ops[] = {
	&spc_op_test_unit_ready,
	&spc_op_request_sense,
	&spc_op_inquiry,
	&spc_op_mode_select6,
	&spc_op_reserve6,
	&spc_op_release6,
	&spc_op_mode_sense6,
	&mmc_op_start_stop,
	&mmc_op_prevent_allow,
	&mmc_op_capacity,
	&mmc_op_read10,
	&mmc_op_read_toc,
	&mmc_op_get_config,
	&mmc_op_gesn,
	&mmc_op_disc_info,
	&mmc_op_track_info,
	&spc_op_mode_select10,
	&spc_op_reserve10,
	&spc_op_release10,
	&spc_op_mode_sense10,
	&spc_op_report_luns,
	&spc_op_report_opcodes,
	&spc_op_report_tmfs,
	&spc_op_report_tpgs,
	&spc_op_set_tpgs,
	&mmc_op_read12,
	&mmc_op_dvd_structure,
	&mmc_op_set_speed,
	&mmc_op_mech_status,
};
/* clang-format on */

_Static_assert(MMC_COUNT(mmc_ops) <= SCSI_OPS_MAX,
	       "the cd's opcode table outgrew SCSI_OPS_MAX");

/* Not static: tests name it so that the linker keeps this object. */
struct scsi_device_type mmc_cd_type = {
    .name = "cd",
    .pdt = SCSI_PDT_CDROM,
    .product = "VIRTUAL CD/DVD",
    .versions = {MMC_VERSION_MMC6},
    .ops = mmc_ops,
    .nr_ops = MMC_COUNT(mmc_ops),
    .mode_pages = mmc_mode_pages,
    .nr_mode_pages = MMC_COUNT(mmc_mode_pages),
    .mode_block_descriptor = mmc_mode_block_descriptor,
    .check_params = mmc_check_params,
    .medium_eject = mmc_medium_eject,
    .medium_load = mmc_medium_load,
    .lu_init = mmc_lu_init,
    .lu_exit = mmc_lu_exit,
    .lu_ready = mmc_lu_ready,
};

SCSI_DEVICE_TYPE_REGISTER(mmc_cd_type)
