/*
 * digests: CRC32C header and data digests (RFC 7143 §11.2.3, §13.1) end to
 * end, in two modes.
 *
 * digests libiscsi URL SRCFILE SECONDS
 *   libiscsi with HeaderDigest=CRC32C (the only header digest offered)
 *   writes SRCFILE (a multiple of the block size, e.g. 1 MiB) at LBA 0 in
 *   eight WRITE(10) commands, reads it back in four READ(10) commands and
 *   compares; prints "ready", then keeps the session (TEST UNIT READY once
 *   a second) until SIGTERM or SECONDS, logs out and prints "logged-out".
 *   Exit 0, 1 on a failed check, 2 when the login fails, 3 when the
 *   session is lost while held.
 *
 * digests raw ADDR:PORT IQN LUN IMAGE
 *   A hand-made initiator (iscsi_raw.h) negotiates HeaderDigest=CRC32C,
 *   DataDigest=CRC32C, MaxRecvDataSegmentLength=4096 and small bursts on
 *   a LUN with 512-byte blocks, and checks every PDU it receives: both
 *   digests, data segments within 4096 bytes, StatSN, R2TSN, DataSN order,
 *   buffer offsets, the F and S bits, Data-In sequences within
 *   MaxBurstLength, the final status and ExpDataSN.
 *    1. session 1 (InitialR2T=Yes, ImmediateData=Yes, FirstBurstLength
 *       8192, MaxBurstLength 16384): a 64 KiB WRITE(10) as immediate data
 *       plus R2T/Data-Out, read back by a 64 KiB READ(10) (16 Data-In);
 *    2. session 2 (InitialR2T=No, FirstBurstLength 16384,
 *       MaxOutstandingR2T 2): immediate data, unsolicited Data-Out and
 *       R2T/Data-Out for another 64 KiB, read back;
 *    3. session 2 sends a WRITE(10) with immediate data whose header digest
 *       is wrong: the target must close the connection without answering
 *       (§7.8: discard or close; at ErrorRecoveryLevel 0 lunar closes) and
 *       the blocks keep their old contents, read through session 1;
 *    4. session 3 writes 64 KiB through R2Ts whose last Data-Out has one
 *       data byte flipped (its data digest is that of the original): the
 *       target must answer Reject, reason 0x02 "Data (payload) Digest
 *       Error", carrying that PDU's header (§7.8, §11.17), and end the
 *       connection (escalation to session recovery, allowed by §7.8)
 *       without a SCSI Response; the LUN keeps its old contents;
 *    5. session 1 still works: its data reads back, a NOP-Out with 101
 *       bytes of ping data is echoed, Logout is answered.
 *   IMAGE receives what the first 256 KiB of the LUN must hold now.
 *   Exit 0 when every check held, 1 otherwise.
 */
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <signal.h>

#include "iscsi_raw.h"

#define INITIATOR     "iqn.2026-11.org.lunar:digests"
#define BLOCK	      512
#define IMAGE_BLOCKS  512
#define SEG	      4096 /* our MaxRecvDataSegmentLength and PDU size */
#define REPLY_WAIT_MS 10000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/* ---- libiscsi mode ---- */

static int tur(struct iscsi_context *iscsi, int lun)
{
	struct scsi_task *task = iscsi_testunitready_sync(iscsi, lun);
	int ok = task && task->status == SCSI_STATUS_GOOD;

	if (task)
		scsi_free_scsi_task(task);
	return ok ? 0 : -1;
}

static uint8_t *load_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		raw_die("cannot open %s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET))
		raw_die("cannot size %s", path);
	buf = malloc((size_t)n);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		raw_die("cannot read %s", path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int run_libiscsi(const char *url_s, const char *src, int seconds)
{
	struct iscsi_context *iscsi;
	struct iscsi_url *url;
	struct scsi_task *task;
	struct scsi_readcapacity10 *rc10;
	uint8_t *data, *back;
	size_t len, chunk, off;
	uint32_t bs;
	time_t end;

	data = load_file(src, &len);
	iscsi = iscsi_create_context(INITIATOR ":libiscsi");
	if (!iscsi)
		raw_die("out of memory");
	url = iscsi_parse_full_url(iscsi, url_s);
	if (!url)
		raw_die("bad URL %s: %s", url_s, iscsi_get_error(iscsi));
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	if (iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_CRC32C))
		raw_die("libiscsi refuses HeaderDigest=CRC32C: %s",
			iscsi_get_error(iscsi));
	iscsi_set_timeout(iscsi, 10);
	iscsi_set_noautoreconnect(iscsi, 1);
	if (iscsi_set_targetname(iscsi, url->target) ||
	    iscsi_full_connect_sync(iscsi, url->portal, url->lun)) {
		fprintf(stderr,
			"%s: login with HeaderDigest=CRC32C to %s failed: %s\n",
			raw_prog, url_s, iscsi_get_error(iscsi));
		return 2;
	}
	raw_log("logged in with HeaderDigest=CRC32C");
	task = iscsi_readcapacity10_sync(iscsi, url->lun, 0, 0);
	if (!task || task->status != SCSI_STATUS_GOOD ||
	    !(rc10 = scsi_datain_unmarshall(task)))
		raw_die("READ CAPACITY(10) failed: %s", iscsi_get_error(iscsi));
	bs = rc10->block_size;
	scsi_free_scsi_task(task);
	chunk = len / 8;
	if (!bs || chunk % bs || len % 8)
		raw_die("%s (%zu bytes) does not split into 8 commands of "
			"whole %u-byte blocks",
			src, len, bs);
	for (off = 0; off < len; off += chunk) {
		task = iscsi_write10_sync(iscsi, url->lun, (uint32_t)(off / bs),
					  data + off, (uint32_t)chunk, (int)bs,
					  0, 0, 0, 0, 0);
		if (!task || task->status != SCSI_STATUS_GOOD)
			raw_die("WRITE(10) of %zu bytes at byte %zu failed: "
				"%s",
				chunk, off, iscsi_get_error(iscsi));
		scsi_free_scsi_task(task);
	}
	raw_log("wrote %zu bytes in 8 WRITE(10) commands", len);
	back = malloc(len);
	if (!back)
		raw_die("out of memory");
	chunk = len / 4;
	for (off = 0; off < len; off += chunk) {
		task =
		    iscsi_read10_sync(iscsi, url->lun, (uint32_t)(off / bs),
				      (uint32_t)chunk, (int)bs, 0, 0, 0, 0, 0);
		if (!task || task->status != SCSI_STATUS_GOOD ||
		    task->datain.size != (int)chunk)
			raw_die("READ(10) of %zu bytes at byte %zu failed: %s",
				chunk, off, iscsi_get_error(iscsi));
		memcpy(back + off, task->datain.data, chunk);
		scsi_free_scsi_task(task);
	}
	for (off = 0; off < len; off++) {
		if (back[off] != data[off])
			raw_die("byte %zu read back as 0x%02x, written as "
				"0x%02x",
				off, back[off], data[off]);
	}
	raw_log("read %zu bytes back in 4 READ(10) commands: identical", len);
	printf("ready\n");
	fflush(stdout);

	end = time(NULL) + seconds;
	while (!stop && time(NULL) < end) {
		struct timespec ts = {.tv_sec = 1};

		nanosleep(&ts, NULL);
		if (stop)
			break;
		if (tur(iscsi, url->lun) < 0) {
			printf("session lost: %s\n", iscsi_get_error(iscsi));
			return 3;
		}
	}
	iscsi_logout_sync(iscsi);
	iscsi_disconnect(iscsi);
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	free(data);
	free(back);
	printf("logged-out\n");
	return 0;
}

/* ---- raw mode ---- */

static struct raw_pdu pdu; /* the PDU being looked at */

static void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)(x >> 11);
	}
}

static void cmd_bhs(struct raw_conn *c, uint8_t *bhs, uint8_t flags,
		    uint32_t itt, uint32_t edtl)
{
	memset(bhs, 0, RAW_BHS);
	bhs[0] = RAW_OP_SCSI_CMD;
	bhs[1] = (uint8_t)(flags | 1); /* task attribute: simple */
	bhs[9] = c->lun;
	raw_put32(bhs + 16, itt);
	raw_put32(bhs + 20, edtl);
	raw_put32(bhs + 24, c->cmdsn++);
	raw_put32(bhs + 28, c->expstatsn);
}

static void cdb_rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint32_t blocks)
{
	cdb[0] = op;
	raw_put32(cdb + 2, lba);
	raw_put16(cdb + 7, blocks);
}

/* Receives the next PDU or dies saying what was awaited. */
static void next_pdu(struct raw_conn *c, const char *awaiting)
{
	int r = raw_recv(c, &pdu, REPLY_WAIT_MS);

	if (r == 0)
		raw_die("%s: the target closed the connection while we waited "
			"for %s",
			c->name, awaiting);
	if (r < 0)
		raw_die("%s: nothing for %d s while we waited for %s", c->name,
			REPLY_WAIT_MS / 1000, awaiting);
}

static void unexpected_pdu(struct raw_conn *c, const char *awaiting)
{
	const uint8_t *b = pdu.bhs;

	raw_die("%s: %s (opcode 0x%02x, ITT 0x%08x, reason/response 0x%02x) "
		"while we waited for %s",
		c->name, raw_opname(raw_opcode(b)), raw_opcode(b),
		raw_get32(b + 16), b[2], awaiting);
}

/* "sense key 6 ASC/ASCQ 29/00" from the SCSI Response in pdu, or "". */
static const char *sense_str(void)
{
	static char s[64];
	const uint8_t *d = pdu.data + 2;
	uint32_t n = pdu.dlen >= 2 ? raw_get16(pdu.data) : 0;

	s[0] = 0;
	if (n >= 14 && n + 2 <= pdu.dlen && (d[0] & 0x7f) >= 0x70 &&
	    (d[0] & 0x7f) <= 0x71)
		snprintf(s, sizeof(s), ", sense key 0x%x ASC/ASCQ %02x/%02x",
			 d[2] & 0x0f, d[12], d[13]);
	else if (n >= 4 && n + 2 <= pdu.dlen)
		snprintf(s, sizeof(s),
			 ", descriptor sense key 0x%x "
			 "ASC/ASCQ %02x/%02x",
			 d[1] & 0x0f, d[2], d[3]);
	return s;
}

/* A SCSI Response: GOOD, no residual, the expected ExpDataSN. */
static void check_good_response(struct raw_conn *c, uint32_t itt,
				uint32_t exp_datasn, const char *what)
{
	const uint8_t *b = pdu.bhs;

	if (raw_get32(b + 16) != itt)
		raw_die("%s: SCSI Response for ITT 0x%08x, expected 0x%08x "
			"(%s)",
			c->name, raw_get32(b + 16), itt, what);
	if (!(b[1] & RAW_FINAL) || b[2] != 0 || b[3] != 0)
		raw_die("%s: %s ended with flags 0x%02x response %u status "
			"0x%02x%s; expected F, response 0 (completed), status "
			"GOOD",
			c->name, what, b[1], b[2], b[3], sense_str());
	if ((b[1] & 0x1e) || raw_get32(b + 44))
		raw_die("%s: %s ended with residual flags 0x%02x count %u; "
			"expected none",
			c->name, what, b[1] & 0x1e, raw_get32(b + 44));
	if (raw_get32(b + 36) != exp_datasn)
		raw_die("%s: SCSI Response for %s has ExpDataSN %u, expected "
			"%u (R2T/Data-In PDUs sent for it, §11.4.8)",
			c->name, what, raw_get32(b + 36), exp_datasn);
	raw_take_statsn(c, b);
}

/* Data-Out PDUs for [off, end) of buf, at most SEG bytes each, DataSN
 * from 0, F on the last. corrupt_last damages the last one's data; its
 * BHS is left in last_bhs. */
static void send_data_out(struct raw_conn *c, uint32_t itt, uint32_t ttt,
			  const uint8_t *buf, uint32_t off, uint32_t end,
			  bool corrupt_last, uint8_t *last_bhs)
{
	uint32_t seg = c->tgt_mrdsl < SEG ? c->tgt_mrdsl : SEG;
	uint32_t datasn = 0;

	while (off < end) {
		uint32_t n = end - off < seg ? end - off : seg;
		bool last = off + n == end;
		uint8_t bhs[RAW_BHS] = {0};

		bhs[0] = RAW_OP_DATA_OUT;
		bhs[1] = last ? RAW_FINAL : 0;
		bhs[9] = c->lun;
		raw_put32(bhs + 16, itt);
		raw_put32(bhs + 20, ttt);
		raw_put32(bhs + 28, c->expstatsn);
		raw_put32(bhs + 36, datasn++);
		raw_put32(bhs + 40, off);
		if (!raw_send(c, bhs, buf + off, n,
			      last && corrupt_last ? RAW_CORRUPT_DATA : 0))
			raw_die("%s: connection lost sending Data-Out at "
				"offset %u",
				c->name, off);
		if (last && last_bhs)
			memcpy(last_bhs, bhs, RAW_BHS);
		off += n;
	}
}

struct write_stats {
	unsigned r2ts;
	uint32_t imm, unsol;
};

/*
 * WRITE(10) of len bytes at lba: immediate data (at most imm_max bytes,
 * when negotiated), unsolicited Data-Out up to FirstBurstLength (when
 * InitialR2T=No), the rest as the target's R2Ts ask. Each R2T is checked
 * (ITT, TTT, R2TSN, offset in order, length within MaxBurstLength, StatSN
 * not advanced). With corrupt_last the last Data-Out goes out damaged and
 * the function returns its BHS in bad_bhs instead of waiting for status.
 */
static struct write_stats do_write(struct raw_conn *c, uint32_t lba,
				   const uint8_t *buf, uint32_t len,
				   uint32_t imm_max, bool corrupt_last,
				   uint8_t *bad_bhs)
{
	struct write_stats st = {0};
	uint32_t itt = c->itt++, unsol_end, next_off, r2tsn = 0;
	uint8_t bhs[RAW_BHS];
	char what[64];

	snprintf(what, sizeof(what), "WRITE(10) ITT 0x%08x", itt);
	if (c->immediate_data) {
		st.imm = len;
		if (st.imm > imm_max)
			st.imm = imm_max;
		if (st.imm > c->first_burst)
			st.imm = c->first_burst;
		if (st.imm > c->tgt_mrdsl)
			st.imm = c->tgt_mrdsl;
	}
	unsol_end = st.imm;
	if (!c->initial_r2t)
		unsol_end = len < c->first_burst ? len : c->first_burst;
	st.unsol = unsol_end - st.imm;
	cmd_bhs(c, bhs, (uint8_t)((st.unsol ? 0 : RAW_FINAL) | 0x20), itt, len);
	cdb_rw10(bhs + 32, 0x2a, lba, len / BLOCK);
	if (!raw_send(c, bhs, buf, st.imm, 0))
		raw_die("%s: connection lost sending %s", c->name, what);
	if (st.unsol)
		send_data_out(c, itt, RAW_RSVD_TAG, buf, st.imm, unsol_end,
			      corrupt_last && unsol_end == len, bad_bhs);
	if (corrupt_last && unsol_end == len)
		return st;
	next_off = unsol_end;
	for (;;) {
		const uint8_t *b = pdu.bhs;
		uint32_t ttt, off, want;

		next_pdu(c, next_off < len ? "an R2T" : "the SCSI Response");
		if (raw_opcode(b) == RAW_OP_SCSI_RSP) {
			if (next_off != len)
				raw_die("%s: %s answered with status 0x%02x "
					"after %u of %u bytes were solicited",
					c->name, what, b[3], next_off, len);
			check_good_response(c, itt, r2tsn, what);
			return st;
		}
		if (raw_opcode(b) != RAW_OP_R2T)
			unexpected_pdu(c, "an R2T or the SCSI Response");
		ttt = raw_get32(b + 20);
		off = raw_get32(b + 40);
		want = raw_get32(b + 44);
		if (raw_get32(b + 16) != itt || ttt == RAW_RSVD_TAG)
			raw_die("%s: R2T with ITT 0x%08x TTT 0x%08x for %s",
				c->name, raw_get32(b + 16), ttt, what);
		if (raw_get32(b + 36) != r2tsn)
			raw_die("%s: R2T with R2TSN %u, expected %u", c->name,
				raw_get32(b + 36), r2tsn);
		if (off != next_off || want == 0 || want > c->max_burst ||
		    want > len - off)
			raw_die("%s: R2T asks for %u bytes at offset %u; "
				"expected offset %u (DataSequenceInOrder), "
				"1..%u bytes (MaxBurstLength), within the %u "
				"bytes of the command",
				c->name, want, off, next_off, c->max_burst,
				len);
		if (raw_get32(b + 24) != c->expstatsn)
			raw_die("%s: R2T carries StatSN %u, expected the next "
				"StatSN %u (§11.8)",
				c->name, raw_get32(b + 24), c->expstatsn);
		r2tsn++;
		st.r2ts++;
		next_off = off + want;
		send_data_out(c, itt, ttt, buf, off, next_off,
			      corrupt_last && next_off == len, bad_bhs);
		if (corrupt_last && next_off == len)
			return st;
	}
}

struct read_stats {
	unsigned pdus, sequences;
	bool status_in_data;
};

/*
 * A READ-type command of len bytes: every Data-In is checked (ITT, TTT
 * 0xffffffff, no A bit at ErrorRecoveryLevel 0, DataSN from 0 without
 * gaps, BufferOffset continuing the previous PDU, at most SEG bytes,
 * sequences ended by the F bit within MaxBurstLength, S only with F on
 * the last PDU), then the status, in the last Data-In or a SCSI Response.
 */
static struct read_stats do_read_cdb(struct raw_conn *c, const uint8_t *cdb,
				     uint8_t *out, uint32_t len)
{
	struct read_stats st = {0};
	uint32_t itt = c->itt++, got = 0, seq = 0;
	uint8_t bhs[RAW_BHS];
	bool last_f = false;
	char what[64];

	snprintf(what, sizeof(what), "command 0x%02x ITT 0x%08x", cdb[0], itt);
	cmd_bhs(c, bhs, RAW_FINAL | 0x40, itt, len);
	memcpy(bhs + 32, cdb, 16);
	if (!raw_send(c, bhs, NULL, 0, 0))
		raw_die("%s: connection lost sending %s", c->name, what);
	for (;;) {
		const uint8_t *b = pdu.bhs;
		uint8_t fl;

		next_pdu(c, "Data-In");
		if (raw_opcode(b) == RAW_OP_SCSI_RSP) {
			check_good_response(c, itt, st.pdus, what);
			if (got != len || !last_f)
				raw_die("%s: SCSI Response for %s after %u of "
					"%u bytes (last Data-In F bit %d)",
					c->name, what, got, len, last_f);
			return st;
		}
		if (raw_opcode(b) != RAW_OP_DATA_IN)
			unexpected_pdu(c, "Data-In or the SCSI Response");
		fl = b[1];
		if (raw_get32(b + 16) != itt ||
		    raw_get32(b + 20) != RAW_RSVD_TAG || (fl & 0x40))
			raw_die("%s: Data-In ITT 0x%08x TTT 0x%08x flags "
				"0x%02x for %s; expected TTT 0xffffffff and no "
				"A bit (ErrorRecoveryLevel=0)",
				c->name, raw_get32(b + 16), raw_get32(b + 20),
				fl, what);
		if (raw_get32(b + 36) != st.pdus)
			raw_die("%s: Data-In with DataSN %u, expected %u",
				c->name, raw_get32(b + 36), st.pdus);
		if (raw_get32(b + 40) != got)
			raw_die("%s: Data-In DataSN %u at BufferOffset %u, "
				"expected %u",
				c->name, st.pdus, raw_get32(b + 40), got);
		if (pdu.dlen == 0 || pdu.dlen > len - got)
			raw_die("%s: Data-In DataSN %u with %u bytes at offset "
				"%u of a %u-byte transfer",
				c->name, st.pdus, pdu.dlen, got, len);
		memcpy(out + got, pdu.data, pdu.dlen);
		got += pdu.dlen;
		seq += pdu.dlen;
		st.pdus++;
		if (seq > c->max_burst)
			raw_die("%s: Data-In sequence of %u bytes (DataSN %u) "
				"exceeds MaxBurstLength %u without the F bit",
				c->name, seq, st.pdus - 1, c->max_burst);
		last_f = fl & RAW_FINAL;
		if (last_f) {
			seq = 0;
			st.sequences++;
		}
		if (!(fl & 0x01))
			continue;
		/* S bit: the status is here (§11.7.1) */
		if (!last_f || got != len)
			raw_die("%s: Data-In DataSN %u has the S bit with F=%d "
				"after %u of %u bytes",
				c->name, st.pdus - 1, last_f, got, len);
		if (b[3] != 0 || (fl & 0x06) || raw_get32(b + 44))
			raw_die("%s: final Data-In of %s: status 0x%02x, "
				"residual flags 0x%02x count %u; expected GOOD "
				"and no residual",
				c->name, what, b[3], fl & 0x06,
				raw_get32(b + 44));
		raw_take_statsn(c, b);
		st.status_in_data = true;
		return st;
	}
}

static struct read_stats do_read(struct raw_conn *c, uint32_t lba, uint8_t *out,
				 uint32_t len)
{
	uint8_t cdb[16] = {0};

	cdb_rw10(cdb, 0x28, lba, len / BLOCK);
	return do_read_cdb(c, cdb, out, len);
}

static void expect_same(const uint8_t *got, const uint8_t *want, size_t len,
			uint32_t lba, const char *what)
{
	for (size_t i = 0; i < len; i++) {
		if (got[i] != want[i])
			raw_die("%s: byte %zu (LBA %zu) read as 0x%02x, "
				"expected 0x%02x",
				what, i, lba + i / BLOCK, got[i], want[i]);
	}
}

/* TEST UNIT READY until GOOD: a new I_T nexus starts with a unit
 * attention (power on / reset) that the first command reports. */
static void clear_unit_attention(struct raw_conn *c)
{
	for (int i = 0; i < 3; i++) {
		uint32_t itt = c->itt++;
		uint8_t bhs[RAW_BHS];

		cmd_bhs(c, bhs, RAW_FINAL, itt, 0);
		if (!raw_send(c, bhs, NULL, 0, 0))
			raw_die("%s: connection lost sending TEST UNIT READY",
				c->name);
		next_pdu(c, "the answer to TEST UNIT READY");
		if (raw_opcode(pdu.bhs) != RAW_OP_SCSI_RSP ||
		    raw_get32(pdu.bhs + 16) != itt)
			unexpected_pdu(c, "the answer to TEST UNIT READY");
		raw_take_statsn(c, pdu.bhs);
		if (pdu.bhs[3] == 0)
			return;
		if (pdu.bhs[3] != 0x02 || !strstr(sense_str(), "key 0x6 "))
			raw_die("%s: TEST UNIT READY: status 0x%02x%s; "
				"expected GOOD or a unit attention",
				c->name, pdu.bhs[3], sense_str());
	}
	raw_die("%s: TEST UNIT READY still not GOOD after 3 tries", c->name);
}

static void login_digests(struct raw_conn *c, const char *portal,
			  const char *iqn, int lun, const char *name,
			  uint16_t isid, const char *const *keys)
{
	raw_connect(c, portal, name);
	raw_login(c, INITIATOR, iqn, isid, keys);
	c->lun = (uint8_t)lun;
	c->answer_pings = true;
	raw_expect_key(c, "HeaderDigest", "CRC32C");
	raw_expect_key(c, "DataDigest", "CRC32C");
	if (c->tgt_mrdsl < 512)
		raw_die("%s: target MaxRecvDataSegmentLength %u", name,
			c->tgt_mrdsl);
	clear_unit_attention(c);
	raw_log("%s: logged in, TSIH %u, digests CRC32C/CRC32C, target "
		"MaxRecvDataSegmentLength %u, FirstBurstLength %u, "
		"MaxBurstLength %u, InitialR2T %s, ImmediateData %s",
		name, c->tsih, c->tgt_mrdsl, c->first_burst, c->max_burst,
		c->initial_r2t ? "Yes" : "No",
		c->immediate_data ? "Yes" : "No");
}

static void check_write_read(struct raw_conn *c, uint32_t lba, uint32_t len,
			     uint32_t seed, uint32_t imm_max, uint8_t *image)
{
	uint8_t *buf = malloc(len), *back = malloc(len);
	struct write_stats ws;
	struct read_stats rs;

	if (!buf || !back)
		raw_die("out of memory");
	fill_pattern(buf, len, seed);
	ws = do_write(c, lba, buf, len, imm_max, false, NULL);
	raw_log("%s: WRITE(10) of %u bytes at LBA %u: %u immediate, %u "
		"unsolicited Data-Out, %u R2T(s), status GOOD",
		c->name, len, lba, ws.imm, ws.unsol, ws.r2ts);
	memset(back, 0, len);
	rs = do_read(c, lba, back, len);
	raw_log("%s: READ(10) of %u bytes at LBA %u: %u Data-In PDUs in %u "
		"sequence(s), status %s",
		c->name, len, lba, rs.pdus, rs.sequences,
		rs.status_in_data ? "in the last Data-In"
				  : "in a SCSI Response");
	if (len > SEG && rs.pdus < len / SEG)
		raw_die("%s: %u bytes came in %u Data-In PDUs with "
			"MaxRecvDataSegmentLength=%u",
			c->name, len, rs.pdus, SEG);
	expect_same(back, buf, len, lba, "data read back");
	memcpy(image + (size_t)lba * BLOCK, buf, len);
	free(buf);
	free(back);
}

static void check_unchanged(struct raw_conn *c, uint32_t lba, uint32_t len,
			    const uint8_t *image, const char *what)
{
	uint8_t *back = malloc(len);

	if (!back)
		raw_die("out of memory");
	do_read(c, lba, back, len);
	expect_same(back, image + (size_t)lba * BLOCK, len, lba, what);
	free(back);
}

static int run_raw(const char *portal, const char *iqn, int lun,
		   const char *image_path)
{
	static const char *const keys1[] = {
	    "HeaderDigest=CRC32C",
	    "DataDigest=CRC32C",
	    "ErrorRecoveryLevel=0",
	    "InitialR2T=Yes",
	    "ImmediateData=Yes",
	    "MaxRecvDataSegmentLength=4096",
	    "MaxBurstLength=16384",
	    "FirstBurstLength=8192",
	    "MaxOutstandingR2T=1",
	    "MaxConnections=1",
	    "DataPDUInOrder=Yes",
	    "DataSequenceInOrder=Yes",
	    NULL,
	};
	static const char *const keys2[] = {
	    "HeaderDigest=CRC32C",
	    "DataDigest=CRC32C",
	    "InitialR2T=No",
	    "ImmediateData=Yes",
	    "MaxRecvDataSegmentLength=4096",
	    "MaxBurstLength=16384",
	    "FirstBurstLength=16384",
	    "MaxOutstandingR2T=2",
	    NULL,
	};
	static const char *const keys3[] = {
	    "HeaderDigest=CRC32C",
	    "DataDigest=CRC32C",
	    "InitialR2T=Yes",
	    "ImmediateData=No",
	    "MaxRecvDataSegmentLength=4096",
	    "MaxBurstLength=16384",
	    "MaxOutstandingR2T=1",
	    NULL,
	};
	static uint8_t image[IMAGE_BLOCKS * BLOCK];
	struct raw_conn s1, s2, s3;
	uint8_t bhs[RAW_BHS], bad_bhs[RAW_BHS], buf[65536], cdb[16] = {0};
	uint8_t cap[8], ping[101];
	uint64_t ms;
	FILE *f;

	raw_crc32c_selftest();
	raw_log("CRC32C matches the examples of RFC 3720 B.4");

	/* 1. session 1: immediate data + R2T, 16 Data-In back */
	login_digests(&s1, portal, iqn, lun, "session 1", 1, keys1);
	raw_expect_key(&s1, "InitialR2T", "Yes");
	raw_expect_key(&s1, "ImmediateData", "Yes");
	raw_expect_key(&s1, "MaxBurstLength", "16384");
	raw_expect_key(&s1, "FirstBurstLength", "8192");
	raw_expect_key(&s1, "MaxOutstandingR2T", "1");
	cdb[0] = 0x25; /* READ CAPACITY(10) */
	do_read_cdb(&s1, cdb, cap, sizeof(cap));
	if (raw_get32(cap + 4) != BLOCK || raw_get32(cap) < IMAGE_BLOCKS)
		raw_die("LUN %d has %u blocks of %u bytes; this test needs "
			"%u blocks of %u bytes",
			lun, raw_get32(cap) + 1, raw_get32(cap + 4),
			IMAGE_BLOCKS, BLOCK);
	check_write_read(&s1, 0, 65536, 1, 65536, image);
	/* blocks that steps 3 and 4 try to overwrite */
	check_write_read(&s1, 256, 4096, 3, 65536, image);
	check_write_read(&s1, 384, 65536, 4, 65536, image);

	/* 2. session 2: immediate + unsolicited Data-Out + R2T */
	login_digests(&s2, portal, iqn, lun, "session 2", 2, keys2);
	raw_expect_key(&s2, "InitialR2T", "No");
	raw_expect_key(&s2, "FirstBurstLength", "16384");
	raw_expect_key(&s2, "MaxOutstandingR2T", "2");
	check_write_read(&s2, 128, 65536, 2, 4096, image);

	/* 3. a header digest error drops the connection, nothing written */
	fill_pattern(buf, 4096, 33);
	cmd_bhs(&s2, bhs, RAW_FINAL | 0x20, s2.itt++, 4096);
	cdb_rw10(bhs + 32, 0x2a, 256, 8);
	if (!raw_send(&s2, bhs, buf, 4096, RAW_CORRUPT_HDIGEST))
		raw_die("session 2: connection lost sending the WRITE(10) "
			"with a bad header digest");
	ms = raw_expect_close(&s2, REPLY_WAIT_MS,
			      "after a SCSI Command with a bad header digest");
	raw_log("session 2: WRITE(10) with a bad header digest: connection "
		"closed after %llu ms, no answer",
		(unsigned long long)ms);
	check_unchanged(&s1, 256, 4096, image,
			"session 1, blocks the bad-header WRITE(10) aimed at");
	raw_log("session 1: still serving; LBA 256-263 unchanged");

	/* 4. a data digest error on the last Data-Out: Reject 0x02, close */
	login_digests(&s3, portal, iqn, lun, "session 3", 3, keys3);
	raw_expect_key(&s3, "ImmediateData", "No");
	fill_pattern(buf, sizeof(buf), 44);
	do_write(&s3, 384, buf, sizeof(buf), 0, true, bad_bhs);
	next_pdu(&s3, "the Reject of the Data-Out with a bad data digest");
	if (raw_opcode(pdu.bhs) != RAW_OP_REJECT)
		unexpected_pdu(&s3, "a Reject (reason 0x02) of the Data-Out "
				    "with a bad data digest");
	if (pdu.bhs[2] != 0x02 || !(pdu.bhs[1] & RAW_FINAL) ||
	    raw_get32(pdu.bhs + 16) != RAW_RSVD_TAG)
		raw_die("session 3: Reject with reason 0x%02x flags 0x%02x "
			"tag 0x%08x; expected reason 0x02 (Data (payload) "
			"Digest Error), F, 0xffffffff",
			pdu.bhs[2], pdu.bhs[1], raw_get32(pdu.bhs + 16));
	if (pdu.dlen != RAW_BHS || memcmp(pdu.data, bad_bhs, RAW_BHS))
		raw_die("session 3: the Reject carries %u data bytes that are "
			"not the %d-byte header of the rejected Data-Out "
			"(§11.17)",
			pdu.dlen, RAW_BHS);
	raw_take_statsn(&s3, pdu.bhs);
	ms = raw_expect_close(&s3, REPLY_WAIT_MS,
			      "after rejecting a Data-Out with a bad data "
			      "digest (no SCSI Response may come: the data "
			      "was discarded)");
	raw_log("session 3: Data-Out with a bad data digest: Reject reason "
		"0x02 with its header, connection closed %llu ms later, no "
		"SCSI Response",
		(unsigned long long)ms);
	check_unchanged(&s1, 384, 65536, image,
			"session 1, blocks the WRITE(10) with a bad Data-Out "
			"aimed at");
	raw_log("session 1: LBA 384-511 unchanged");

	/* 5. session 1 is unaffected */
	check_unchanged(&s1, 0, 65536, image, "session 1, LBA 0-127");
	check_unchanged(&s1, 128, 65536, image, "session 1, LBA 128-255");
	fill_pattern(ping, sizeof(ping), 5);
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = RAW_IMMEDIATE | RAW_OP_NOP_OUT;
	bhs[1] = RAW_FINAL;
	raw_put32(bhs + 16, s1.itt);
	raw_put32(bhs + 20, RAW_RSVD_TAG);
	raw_put32(bhs + 24, s1.cmdsn);
	raw_put32(bhs + 28, s1.expstatsn);
	if (!raw_send(&s1, bhs, ping, sizeof(ping), 0))
		raw_die("session 1: connection lost sending a NOP-Out");
	next_pdu(&s1, "the NOP-In answering our NOP-Out");
	if (raw_opcode(pdu.bhs) != RAW_OP_NOP_IN ||
	    raw_get32(pdu.bhs + 16) != s1.itt ||
	    raw_get32(pdu.bhs + 20) != RAW_RSVD_TAG ||
	    pdu.dlen != sizeof(ping) || memcmp(pdu.data, ping, sizeof(ping)))
		raw_die("session 1: answer to a NOP-Out (ITT 0x%08x, %zu "
			"bytes): %s ITT 0x%08x TTT 0x%08x with %u bytes%s",
			s1.itt, sizeof(ping), raw_opname(raw_opcode(pdu.bhs)),
			raw_get32(pdu.bhs + 16), raw_get32(pdu.bhs + 20),
			pdu.dlen,
			pdu.dlen == sizeof(ping) ? " that differ" : "");
	raw_take_statsn(&s1, pdu.bhs);
	s1.itt++;
	raw_log("session 1: 101 bytes of ping data echoed");
	raw_logout(&s1);
	raw_log("session 1: logged out (%u target ping(s) answered)",
		s1.pings_answered);

	f = fopen(image_path, "wb");
	if (!f || fwrite(image, 1, sizeof(image), f) != sizeof(image) ||
	    fclose(f))
		raw_die("cannot write %s: %s", image_path, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};

	raw_prog = "digests";
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (argc == 5 && !strcmp(argv[1], "libiscsi")) {
		alarm((unsigned)atoi(argv[4]) + 120);
		return run_libiscsi(argv[2], argv[3], atoi(argv[4]));
	}
	if (argc == 6 && !strcmp(argv[1], "raw")) {
		alarm(120);
		return run_raw(argv[2], argv[3], atoi(argv[4]), argv[5]);
	}
	fprintf(stderr, "usage: digests libiscsi URL SRCFILE SECONDS\n"
			"       digests raw ADDR:PORT IQN LUN IMAGE\n");
	return 2;
}
