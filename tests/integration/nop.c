/*
 * nop: NOP-Out/NOP-In (RFC 7143 §11.18-11.19) and the target's liveness
 * pings, seen by a hand-made initiator (iscsi_raw.h) that logs in and then
 * stays silent.
 *
 *  1. A NOP-Out with ITT 0x4e4f5001, TTT 0xffffffff and 100 bytes of ping
 *     data is answered by a NOP-In with the same ITT, TTT 0xffffffff and
 *     the same 100 bytes, carrying the next StatSN.
 *  2. After silence the target pings: a NOP-In with ITT 0xffffffff, a TTT
 *     other than 0xffffffff and StatSN not advanced arrives INTERVAL_S
 *     after our last PDU, within a tolerance (lunard --nop-interval). We
 *     answer it with a NOP-Out
 *     echoing its TTT and LUN, ITT 0xffffffff, I bit set.
 *  3. The answered connection stays up: the next ping arrives the same
 *     way. We do not answer that one.
 *  4. The target closes the connection TIMEOUT_S after the unanswered
 *     ping, within a tolerance (lunard --nop-timeout).
 * Prints "answered ping 1" once the first ping is answered (the session
 * is then logged in for sure), and "closed" at the end.
 *
 * usage: nop ADDR:PORT IQN INTERVAL_S TIMEOUT_S (lunard's --nop-interval
 * and --nop-timeout). Exit 0 when every check held, 1 otherwise. Takes
 * about 2 * INTERVAL_S + TIMEOUT_S.
 */
#include <signal.h>

#include "iscsi_raw.h"

#define INITIATOR "iqn.2026-11.org.lunar:nop"
#define PING_ITT  0x4e4f5001u
/* Windows around the configured times, in ms: timers fire on time, but
 * the machine may be busy running other tests. */
static int min_ping_ms, max_ping_ms, min_drop_ms, max_drop_ms;

static struct raw_pdu pdu;

/* Waits for the target's ping; any other PDU, or a close, is an error. */
static uint64_t wait_ping(struct raw_conn *c, uint64_t since, const char *what)
{
	uint64_t deadline = since + (uint64_t)max_ping_ms, now = raw_now_ms(),
		 at;
	int r =
	    now < deadline ? raw_recv_pdu(c, &pdu, (int)(deadline - now)) : -1;

	at = raw_now_ms();
	if (r == 0)
		raw_die("the target closed the connection %.1f s after %s, "
			"without pinging it first",
			(double)(at - since) / 1000, what);
	if (r < 0)
		raw_die("no NOP-In ping within %.1f s of %s",
			max_ping_ms / 1000.0, what);
	if (!raw_is_ping(&pdu))
		raw_die("%s (opcode 0x%02x, ITT 0x%08x) on an idle connection; "
			"expected only a NOP-In ping",
			raw_opname(raw_opcode(pdu.bhs)), raw_opcode(pdu.bhs),
			raw_get32(pdu.bhs + 16));
	raw_check_ping(c, &pdu);
	if (at - since < (uint64_t)min_ping_ms)
		raw_die("NOP-In ping %.1f s after %s: the connection was idle "
			"for less than %.1f s",
			(double)(at - since) / 1000, what,
			min_ping_ms / 1000.0);
	return at;
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {
	    "HeaderDigest=None",
	    "DataDigest=None",
	    "ErrorRecoveryLevel=0",
	    "MaxRecvDataSegmentLength=8192",
	    NULL,
	};
	struct raw_conn c;
	uint8_t bhs[RAW_BHS] = {0}, data[100];
	uint32_t ttt1, ttt2;
	uint64_t sent, ping1, answered, ping2, closed;
	int r;

	raw_prog = "nop";
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc != 5 || atoi(argv[3]) < 1 || atoi(argv[4]) < 1) {
		fprintf(stderr,
			"usage: nop ADDR:PORT IQN INTERVAL_S TIMEOUT_S\n");
		return 2;
	}
	min_ping_ms = atoi(argv[3]) * 1000 - 500;
	max_ping_ms = atoi(argv[3]) * 1000 + 3000;
	min_drop_ms = atoi(argv[4]) * 1000 - 500;
	max_drop_ms = atoi(argv[4]) * 1000 + 5000;
	alarm((unsigned)((3 * max_ping_ms + max_drop_ms) / 1000 + 20));
	raw_connect(&c, argv[1], "nop");
	raw_login(&c, INITIATOR, argv[2], 0x4e4f, keys);
	raw_log("logged in to %s, TSIH %u", argv[2], c.tsih);

	/* 1. our ping, with data */
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	bhs[0] = RAW_IMMEDIATE | RAW_OP_NOP_OUT;
	bhs[1] = RAW_FINAL;
	raw_put32(bhs + 16, PING_ITT);
	raw_put32(bhs + 20, RAW_RSVD_TAG);
	raw_put32(bhs + 24, c.cmdsn);
	raw_put32(bhs + 28, c.expstatsn);
	if (!raw_send(&c, bhs, data, sizeof(data), 0))
		raw_die("connection lost sending a NOP-Out");
	sent = raw_now_ms();
	r = raw_recv_pdu(&c, &pdu, 5000);
	if (r <= 0)
		raw_die("%s after a NOP-Out with ITT 0x%08x and 100 bytes",
			r == 0 ? "connection closed" : "no answer within 5 s",
			PING_ITT);
	if (raw_opcode(pdu.bhs) != RAW_OP_NOP_IN ||
	    raw_get32(pdu.bhs + 16) != PING_ITT ||
	    raw_get32(pdu.bhs + 20) != RAW_RSVD_TAG || !(pdu.bhs[1] & 0x80))
		raw_die(
		    "answer to a NOP-Out with ITT 0x%08x: %s ITT 0x%08x TTT "
		    "0x%08x flags 0x%02x; expected NOP-In, the same ITT, "
		    "TTT 0xffffffff, F",
		    PING_ITT, raw_opname(raw_opcode(pdu.bhs)),
		    raw_get32(pdu.bhs + 16), raw_get32(pdu.bhs + 20),
		    pdu.bhs[1]);
	if (pdu.dlen != sizeof(data) || memcmp(pdu.data, data, sizeof(data)))
		raw_die("the NOP-In answering 100 bytes of ping data carries "
			"%u bytes%s",
			pdu.dlen,
			pdu.dlen == sizeof(data) ? " that differ" : "");
	raw_take_statsn(&c, pdu.bhs);
	raw_log("NOP-Out with 100 bytes of ping data: echoed in a NOP-In");

	/* 2. the target's ping, answered */
	ping1 = wait_ping(&c, sent, "our last PDU");
	ttt1 = raw_get32(pdu.bhs + 20);
	if (!raw_answer_ping(&c, &pdu))
		raw_die("connection lost answering the NOP-In ping");
	answered = raw_now_ms();
	raw_log("answered ping 1: NOP-In TTT 0x%08x %.1f s after our last "
		"PDU",
		ttt1, (double)(ping1 - sent) / 1000);

	/* 3. still up: the next ping */
	ping2 = wait_ping(&c, answered, "our answer to the first ping");
	ttt2 = raw_get32(pdu.bhs + 20);
	raw_log("ping 2: NOP-In TTT 0x%08x %.1f s after our answer; not "
		"answering it",
		ttt2, (double)(ping2 - answered) / 1000);

	/* 4. unanswered: dropped */
	for (;;) {
		uint64_t now = raw_now_ms(),
			 deadline = ping2 + (uint64_t)max_drop_ms;

		if (now >= deadline)
			raw_die("the connection is still open %.1f s after an "
				"unanswered NOP-In ping",
				max_drop_ms / 1000.0);
		r = raw_recv_pdu(&c, &pdu, (int)(deadline - now));
		if (r == 0)
			break;
		if (r > 0 && !raw_is_ping(&pdu))
			raw_die("%s (opcode 0x%02x) while the target waited "
				"for the answer to its ping",
				raw_opname(raw_opcode(pdu.bhs)),
				raw_opcode(pdu.bhs));
		if (r > 0)
			raw_log("another NOP-In ping (TTT 0x%08x); not "
				"answering",
				raw_get32(pdu.bhs + 20));
	}
	closed = raw_now_ms();
	raw_close(&c);
	if (closed - ping2 < (uint64_t)min_drop_ms)
		raw_die("the target closed the connection %.1f s after its "
			"unanswered ping; expected it to wait at least %.1f s",
			(double)(closed - ping2) / 1000, min_drop_ms / 1000.0);
	raw_log("closed: the target dropped the connection %.1f s after the "
		"unanswered ping",
		(double)(closed - ping2) / 1000);
	return 0;
}
