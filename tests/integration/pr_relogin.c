/*
 * pr_relogin: a registration belongs to an I_T nexus, and with iSCSI the
 * initiator port is the initiator name plus the ISID (SAM-5 / RFC 7143
 * 4.4.2: "iqn...,i,0x<ISID>"), not a session. So (SPC-5 5.13.7, 5.13.10):
 *
 *  1. A nexus (name N, ISID I1) REGISTERs; READ FULL STATUS names it by
 *     that TransportID. It logs out and logs in again with N and I1: READ
 *     KEYS still lists its key and it can RESERVE with it.
 *  2. N with another ISID I2 (a session open next to the first) is
 *     another nexus, not registered: its RESERVE gets RESERVATION
 *     CONFLICT; REGISTER AND IGNORE EXISTING KEY registers it. So is
 *     another name with I1.
 *  3. The session holding the reservation is dropped without a Logout
 *     (the connection closed): a new login with N and I1 is still the
 *     registered holder (WRITE under its WE reservation GOOD).
 *  4. Session reinstatement (RFC 7143 6.3.5): a login with N and I1 while
 *     that session is still open replaces it; the new session is still
 *     the holder; READ FULL STATUS shows R_HOLDER for it.
 *  5. When REPORT CAPABILITIES offers SIP_C: a REGISTER with SPEC_I_PT=1
 *     and the TransportID "N,i,0x<I2>" registers that nexus too, which can
 *     then RESERVE with the key.
 *
 * usage: pr_relogin URL
 * Exit 0 when every check holds, 1 otherwise, 2 when it could not run.
 */
#include <ctype.h>

#include "pr_lib.h"

#define KEY_1 0x1111000000000011ull
#define KEY_2 0x2222000000000022ull
#define KEY_O 0x3333000000000033ull
#define I1    0x1e1111
#define I2    0x1e2222

/* "0x80RRRRRRQQQQ": the ISID libiscsi sends for iscsi_set_isid_random. */
static void isid_hex(const struct nexus *nx, char *buf, size_t len)
{
	snprintf(buf, len, ",i,0x80%06x%04x", nx->isid_rnd, nx->isid_q);
}

static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++) {
		size_t i = 0;

		while (i < n && hay[i] &&
		       tolower((unsigned char)hay[i]) ==
			   tolower((unsigned char)needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return false;
}

/*
 * READ FULL STATUS (SPC-5 6.16.5) from via: there must be a descriptor
 * with key whose TransportID (iSCSI, format 01b, SPC-5 7.6.4.6) names nx's
 * initiator port, with R_HOLDER as given.
 */
static void check_full_status(struct nexus *via, const char *what, uint64_t key,
			      const struct nexus *nx, int holder)
{
	uint8_t buf[PR_IN_ALLOC];
	size_t got, off = 8, end;
	struct res r = pr_in(via, PRI_READ_FULL_STATUS, buf, sizeof(buf), &got);
	char isid[32], seen[512] = "";
	int r_holder = -1;

	if (!check("READ FULL STATUS", GOOD, r))
		return;
	isid_hex(nx, isid, sizeof(isid));
	end = got >= 8 ? 8 + get_be32(buf + 4) : 0;
	if (end > got)
		end = got;
	while (off + 24 <= end) {
		const uint8_t *dsc = buf + off;
		uint32_t add = get_be32(dsc + 20);
		const uint8_t *t = dsc + 24;
		char tid[300] = "";

		if (off + 24 + add > end)
			break;
		/* protocol 5 (iSCSI), format 01b: name,i,0xISID */
		if (add > 4 && (t[0] & 0x0f) == 5 && (t[0] >> 6) == 1) {
			size_t n = add - 4 < sizeof(tid) - 1 ? add - 4
							     : sizeof(tid) - 1;

			memcpy(tid, t + 4, n);
			tid[n] = 0;
		} else if (add > 0) {
			snprintf(tid, sizeof(tid),
				 "(TransportID byte 0 0x%02x)", t[0]);
		}
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen),
			 "%s0x%llx %s%s", off > 8 ? "; " : "",
			 (unsigned long long)get_be64(dsc), tid,
			 dsc[12] & 1 ? " R_HOLDER" : "");
		if (get_be64(dsc) == key && contains_nocase(tid, nx->name) &&
		    contains_nocase(tid, isid))
			r_holder = dsc[12] & 1;
		off += 24 + add;
	}
	if (!check_true(r_holder >= 0,
			"%s: READ FULL STATUS has key 0x%llx for %s%s; it has: "
			"%s",
			what, (unsigned long long)key, nx->name, isid, seen))
		return;
	check_true(r_holder == holder, "%s: R_HOLDER expected %d, got %d", what,
		   holder, r_holder);
}

/* SIP_C of REPORT CAPABILITIES, or -1. */
static int read_sip_c(struct nexus *nx)
{
	uint8_t buf[8];
	size_t got;
	struct res r =
	    pr_in(nx, PRI_REPORT_CAPABILITIES, buf, sizeof(buf), &got);

	if (!check("REPORT CAPABILITIES", GOOD, r) || got < 8)
		return -1;
	return (buf[2] >> 3) & 1;
}

/*
 * REGISTER with SPEC_I_PT=1 (SPC-5 6.17.3): registers via and the
 * initiator port of target (iSCSI TransportID, format 01b) with sa_key.
 */
static struct res register_spec_i_pt(struct nexus *via,
				     const struct nexus *target,
				     uint64_t sa_key)
{
	uint8_t cdb[10] = {0x5f, PRO_REGISTER}, par[24 + 4 + 4 + 256] = {0};
	char port[256];
	size_t n, tid_len;

	snprintf(port, sizeof(port), "%s,i,0x80%06x%04x", target->name,
		 target->isid_rnd, target->isid_q);
	n = strlen(port) + 1;	   /* with its NUL */
	n = (n + 3) / 4 * 4;	   /* padded to 4 bytes */
	tid_len = 4 + n;	   /* TransportID */
	put_be64(par + 8, sa_key); /* RESERVATION KEY 0: not registered */
	par[20] = 0x08;		   /* SPEC_I_PT */
	put_be32(par + 24, (uint32_t)tid_len);
	par[28] = 0x40 | 0x05; /* format 01b, protocol iSCSI */
	put_be16(par + 30, (uint16_t)n);
	memcpy(par + 32, port, strlen(port));
	put_be32(cdb + 5, (uint32_t)(28 + tid_len));
	return nx_cmd(via, cdb, 10, par, 28 + tid_len, NULL, 0, NULL);
}

int main(int argc, char **argv)
{
	struct nexus s1 = {.label = "N/I1 session 1",
			   .name = PR_NAME("relogin"),
			   .isid_rnd = I1,
			   .isid_q = 1};
	struct nexus s2 = s1, s4 = s1, s5 = s1;
	struct nexus s3 = {.label = "N/I2",
			   .name = PR_NAME("relogin"),
			   .isid_rnd = I2,
			   .isid_q = 2};
	struct nexus o = {.label = "other name/I1",
			  .name = PR_NAME("relogin-other"),
			  .isid_rnd = I1,
			  .isid_q = 1};
	struct res r;
	char g[160];

	if (argc != 2) {
		fprintf(stderr, "usage: pr_relogin URL\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	s2.label = "N/I1 session 2";
	s4.label = "N/I1 session 4";
	s5.label = "N/I1 session 5";

	printf("== 1. logout and login with the same name and ISID\n");
	nx_login(&s1, argv[1]);
	drain_ua(&s1);
	check("session 1 REGISTER", GOOD,
	      pr_out(&s1, PRO_REGISTER, 0, 0, KEY_1, false));
	check_full_status(&s1, "after REGISTER", KEY_1, &s1, 0);
	nx_logout(&s1);
	nx_login(&s2, argv[1]);
	drain_ua(&s2);
	check_keys(&s2, "after logout and login", 1, (uint64_t[]){KEY_1});

	printf("== 2. other ISID, other name: other nexuses\n");
	nx_login(&s3, argv[1]);
	drain_ua(&s3);
	check("N/I2 RESERVE WE with N/I1's key (not registered)", CONFLICT,
	      pr_out(&s3, PRO_RESERVE, PR_WE, KEY_1, 0, false));
	check("N/I2 REGISTER AND IGNORE EXISTING KEY", GOOD,
	      pr_out(&s3, PRO_REGISTER_IGNORE, 0, 0, KEY_2, false));
	check_keys(&s3, "N/I1 and N/I2 registered", 2,
		   (uint64_t[]){KEY_1, KEY_2});
	check("N/I2 unregisters", GOOD,
	      pr_out(&s3, PRO_REGISTER, 0, KEY_2, 0, false));
	nx_login(&o, argv[1]);
	drain_ua(&o);
	check("other name with ISID I1 RESERVE WE with N/I1's key (not "
	      "registered)",
	      CONFLICT, pr_out(&o, PRO_RESERVE, PR_WE, KEY_1, 0, false));
	check("session 2 (N/I1) RESERVE WE with its key", GOOD,
	      pr_out(&s2, PRO_RESERVE, PR_WE, KEY_1, 0, false));
	check_resv(&o, "N/I1 holds WE", PR_WE, KEY_1);
	check("N/I2 WRITE under N/I1's WE", CONFLICT, write10(&s3, 0, 1, NULL));
	check("session 2 WRITE (holder)", GOOD, write10(&s2, 0, 1, NULL));
	nx_logout(&s3);

	printf("== 3. session dropped without logout\n");
	nx_drop(&s2);
	nx_login(&s4, argv[1]);
	drain_ua(&s4);
	check_keys(&o, "after the drop and a new login", 1,
		   (uint64_t[]){KEY_1});
	check_resv(&o, "after the drop and a new login", PR_WE, KEY_1);
	check("session 4 (N/I1) WRITE: still the holder", GOOD,
	      write10(&s4, 0, 1, NULL));
	check("other name WRITE", CONFLICT, write10(&o, 0, 1, NULL));

	printf("== 4. session reinstatement\n");
	nx_login(&s5, argv[1]);
	drain_ua(&s5);
	r = tur(&s4);
	note("the replaced session 4 answers TEST UNIT READY with: %s",
	     res_str(&r, g, sizeof(g)));
	check_resv(&o, "after reinstatement", PR_WE, KEY_1);
	check("session 5 (N/I1) WRITE: still the holder", GOOD,
	      write10(&s5, 0, 1, NULL));
	check_full_status(&o, "after reinstatement", KEY_1, &s5, 1);
	check("session 5 RELEASE", GOOD,
	      pr_out(&s5, PRO_RELEASE, PR_WE, KEY_1, 0, false));
	check("session 5 unregisters", GOOD,
	      pr_out(&s5, PRO_REGISTER, 0, KEY_1, 0, false));
	check_keys(&o, "at the end", 0, NULL);
	check("other name WRITE once nothing is reserved", GOOD,
	      write10(&o, 0, 1, NULL));

	printf("== 5. REGISTER with SPEC_I_PT names the nexus by name and "
	       "ISID\n");
	if (read_sip_c(&o) != 1) {
		note("REPORT CAPABILITIES: SIP_C is not 1, SPEC_I_PT is not "
		     "offered: skipped");
	} else {
		nx_login(&s3, argv[1]);
		drain_ua(&s3);
		check("other name REGISTER with SPEC_I_PT=1 for N/I2", GOOD,
		      register_spec_i_pt(&o, &s3, KEY_O));
		check_keys(&o, "SPEC_I_PT registered both", 2,
			   (uint64_t[]){KEY_O, KEY_O});
		check("N/I2 RESERVE WE with the key given by SPEC_I_PT", GOOD,
		      pr_out(&s3, PRO_RESERVE, PR_WE, KEY_O, 0, false));
		check_full_status(&o, "N/I2 holds it", KEY_O, &s3, 1);
		check_full_status(&o, "the other name is registered", KEY_O, &o,
				  0);
		check("session 5 (N/I1, not registered) WRITE", CONFLICT,
		      write10(&s5, 0, 1, NULL));
		check("N/I2 CLEAR", GOOD,
		      pr_out(&s3, PRO_CLEAR, 0, KEY_O, 0, false));
		nx_logout(&s3);
	}

	nx_logout(&s5);
	nx_logout(&o);
	nx_drop(&s4);
	return pr_exit("pr_relogin");
}
