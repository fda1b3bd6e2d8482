/*
 * half_close: an initiator that half-closes its connection (shutdown of
 * its sending side, a TCP FIN) right after its last PDUs still gets the
 * answers to them; then the target closes the connection. A hand-made
 * initiator (iscsi_raw.h), two connections:
 *
 *  1. NOP-Out (ITT 0x48430001, 64 bytes of ping data) and Logout sent
 *     back to back, then FIN: the NOP-In echo and the Logout Response
 *     arrive, then the target closes.
 *  2. NOP-Out, then FIN without a Logout: the NOP-In arrives, then the
 *     target closes (the session ends as on any dropped connection).
 *
 * usage: half_close ADDR:PORT IQN. Exit 0 when every check held.
 */
#include <signal.h>

#include "iscsi_raw.h"

#define INITIATOR "iqn.2026-11.org.lunar:half-close"
#define PING_ITT  0x48430001u

static struct raw_pdu pdu;

static void send_ping(struct raw_conn *c, const uint8_t *data, uint32_t len)
{
	uint8_t bhs[RAW_BHS] = {0};

	bhs[0] = RAW_IMMEDIATE | RAW_OP_NOP_OUT;
	bhs[1] = RAW_FINAL;
	raw_put32(bhs + 16, PING_ITT);
	raw_put32(bhs + 20, RAW_RSVD_TAG);
	raw_put32(bhs + 24, c->cmdsn);
	raw_put32(bhs + 28, c->expstatsn);
	if (!raw_send(c, bhs, data, len, 0))
		raw_die("%s: connection lost sending a NOP-Out", c->name);
}

static void send_logout(struct raw_conn *c)
{
	uint8_t bhs[RAW_BHS] = {0};

	bhs[0] = RAW_IMMEDIATE | RAW_OP_LOGOUT;
	bhs[1] = RAW_FINAL; /* reason 0: close the session */
	raw_put32(bhs + 16, c->itt++);
	raw_put32(bhs + 24, c->cmdsn);
	raw_put32(bhs + 28, c->expstatsn);
	if (!raw_send(c, bhs, NULL, 0, 0))
		raw_die("%s: connection lost sending a Logout", c->name);
}

/* The next PDU must be opcode op; a close or silence is an error. */
static void expect(struct raw_conn *c, uint8_t op, const char *after)
{
	int r = raw_recv_pdu(c, &pdu, 5000);

	if (r <= 0)
		raw_die("%s: %s after %s and a FIN; expected %s first", c->name,
			r == 0 ? "the target closed the connection"
			       : "nothing within 5 s",
			after, raw_opname(op));
	if (raw_opcode(pdu.bhs) != op)
		raw_die("%s: %s (ITT 0x%08x) after %s; expected %s", c->name,
			raw_opname(raw_opcode(pdu.bhs)),
			raw_get32(pdu.bhs + 16), after, raw_opname(op));
	raw_take_statsn(c, pdu.bhs);
}

static void expect_echo(struct raw_conn *c, const uint8_t *data, uint32_t len)
{
	expect(c, RAW_OP_NOP_IN, "a NOP-Out");
	if (raw_get32(pdu.bhs + 16) != PING_ITT || pdu.dlen != len ||
	    memcmp(pdu.data, data, len))
		raw_die("%s: the NOP-In has ITT 0x%08x and %u bytes; expected "
			"ITT 0x%08x and the %u bytes of the NOP-Out",
			c->name, raw_get32(pdu.bhs + 16), pdu.dlen, PING_ITT,
			len);
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {
	    "HeaderDigest=None",
	    "DataDigest=None",
	    "ErrorRecoveryLevel=0",
	    NULL,
	};
	struct raw_conn c;
	uint8_t data[64];
	uint64_t ms;

	raw_prog = "half_close";
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc != 3) {
		fprintf(stderr, "usage: half_close ADDR:PORT IQN\n");
		return 2;
	}
	alarm(60);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 5);

	/* 1. NOP-Out + Logout, FIN */
	raw_connect(&c, argv[1], "connection 1");
	raw_login(&c, INITIATOR, argv[2], 0x4843, keys);
	send_ping(&c, data, sizeof(data));
	send_logout(&c);
	if (shutdown(c.fd, SHUT_WR) < 0)
		raw_die("shutdown: %s", strerror(errno));
	expect_echo(&c, data, sizeof(data));
	expect(&c, RAW_OP_LOGOUT_RSP, "a Logout");
	if (pdu.bhs[2] != 0)
		raw_die("%s: Logout Response %u; expected 0 (closed)", c.name,
			pdu.bhs[2]);
	ms = raw_expect_close(&c, 5000, "after the Logout Response");
	raw_log("NOP-Out, Logout, FIN: both answered, closed after %llu ms",
		(unsigned long long)ms);

	/* 2. NOP-Out, FIN */
	raw_connect(&c, argv[1], "connection 2");
	raw_login(&c, INITIATOR, argv[2], 0x4844, keys);
	send_ping(&c, data, sizeof(data));
	if (shutdown(c.fd, SHUT_WR) < 0)
		raw_die("shutdown: %s", strerror(errno));
	expect_echo(&c, data, sizeof(data));
	ms = raw_expect_close(&c, 5000, "after the NOP-In");
	raw_log("NOP-Out, FIN: answered, closed after %llu ms",
		(unsigned long long)ms);
	return 0;
}
