/*
 * pr_spc2: the SPC-2 reservation (RESERVE (6) / RELEASE (6), SPC-2 5.5.1,
 * 7.21, 7.17) and how it meets persistent reservations (SPC-5 5.13.3,
 * "Exceptions to SPC-2 RESERVE and RELEASE behavior"). Two I_T nexuses A
 * and B (two initiator names):
 *
 *  1. A RESERVE (6): B's READ, WRITE and RESERVE (6) conflict, B's INQUIRY
 *     does not; B's RELEASE (6) is GOOD and releases nothing; A may READ,
 *     WRITE and RESERVE again. A RELEASE (6): B's READ is GOOD.
 *  2. A RESERVE (6), then A logs out: the I_T nexus is gone and so is its
 *     reservation (SPC-2 5.5.1): B's READ is GOOD.
 *  3. While any PR registration exists, RESERVE (6) and RELEASE (6) from
 *     any nexus conflict (SPC-2 5.5.1). SPC-5 5.13.3 makes an exception
 *     for device servers that report CRH=1 in REPORT CAPABILITIES: from
 *     the persistent reservation holder (or a registrant under an RO/AR
 *     type) they are GOOD and change nothing. So the holder's RESERVE (6)
 *     and RELEASE (6) are GOOD with CRH=1 and RESERVATION CONFLICT with
 *     CRH=0; either way no SPC-2 reservation is made (the other nexus
 *     still READs under WE) and the persistent one stays.
 *  4. Once CLEAR removed every registration, RESERVE (6) works again.
 *  5. A connection dropped without Logout also ends the nexus (ERL 0):
 *     its reservation goes (within 5 s).
 *  6. LOGICAL UNIT RESET releases the SPC-2 reservation (SPC-2 5.5.1) but
 *     not a persistent one, nor registrations (SPC-5 5.13.1).
 *
 * usage: pr_spc2 URL
 * Exit 0 when every check holds, 1 otherwise, 2 when it could not run.
 */
#include <unistd.h>

#include "pr_lib.h"

#define KEY_B 0xb6b6b6b6b6b60002ull

/* CRH (Compatible Reservation Handling) of REPORT CAPABILITIES, or -1. */
static int read_crh(struct nexus *nx)
{
	uint8_t buf[8];
	size_t got;
	struct res r =
	    pr_in(nx, PRI_REPORT_CAPABILITIES, buf, sizeof(buf), &got);

	if (!check("REPORT CAPABILITIES", GOOD, r) ||
	    !check_true(got == 8, "REPORT CAPABILITIES is 8 bytes, got %zu",
			got))
		return -1;
	return (buf[2] >> 4) & 1;
}

int main(int argc, char **argv)
{
	struct nexus a = {.label = "A",
			  .name = PR_NAME("spc2-a"),
			  .isid_rnd = 0x520001,
			  .isid_q = 1};
	struct nexus b = {.label = "B",
			  .name = PR_NAME("spc2-b"),
			  .isid_rnd = 0x520002,
			  .isid_q = 2};
	struct res r;
	int tries, crh;

	if (argc != 2) {
		fprintf(stderr, "usage: pr_spc2 URL\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	nx_login(&a, argv[1]);
	nx_login(&b, argv[1]);
	drain_ua(&a);
	drain_ua(&b);

	printf("== 1. RESERVE (6) and RELEASE (6)\n");
	check("A RESERVE (6)", GOOD, reserve6(&a));
	check("B READ (10) while A holds it", CONFLICT, read10(&b, 0, 1, NULL));
	check("B WRITE (10) while A holds it", CONFLICT,
	      write10(&b, 0, 1, NULL));
	check("B INQUIRY while A holds it", GOOD, inquiry(&b));
	check("B RESERVE (6) while A holds it", CONFLICT, reserve6(&b));
	check("B RELEASE (6) (not the holder: GOOD, no effect)", GOOD,
	      release6(&b));
	check("B READ (10) after its RELEASE (6)", CONFLICT,
	      read10(&b, 0, 1, NULL));
	check("A READ (10)", GOOD, read10(&a, 0, 1, NULL));
	check("A WRITE (10)", GOOD, write10(&a, 0, 1, NULL));
	check("A RESERVE (6) again", GOOD, reserve6(&a));
	check("A RELEASE (6)", GOOD, release6(&a));
	check("B READ (10) after A's RELEASE (6)", GOOD,
	      read10(&b, 0, 1, NULL));

	printf("== 2. logout releases it\n");
	check("A RESERVE (6)", GOOD, reserve6(&a));
	check("B READ (10) while A holds it", CONFLICT, read10(&b, 0, 1, NULL));
	nx_logout(&a);
	/* The Logout Response came after the session ended; allow the
	 * target 2 s all the same, and say if it needed them. */
	for (tries = 1;; tries++) {
		r = read10(&b, 0, 1, NULL);
		if (r.status != STATUS_RESV || tries == 20)
			break;
		usleep(100000);
	}
	check("B READ (10) after A logged out", GOOD, r);
	if (tries > 1)
		note("B's READ needed %d tries (the reservation outlived the "
		     "Logout Response by up to %d ms)",
		     tries, (tries - 1) * 100);

	printf("== 3. with a PR registration\n");
	nx_login(&a, argv[1]);
	drain_ua(&a);
	check("B REGISTER (persistent reservations)", GOOD,
	      pr_out(&b, PRO_REGISTER, 0, 0, KEY_B, false));
	check("A RESERVE (6) while B is registered", CONFLICT, reserve6(&a));
	check("A RELEASE (6) while B is registered", CONFLICT, release6(&a));
	check("B RESERVE (6) (registered, no persistent reservation)", CONFLICT,
	      reserve6(&b));
	check("B RELEASE (6) (registered, no persistent reservation)", CONFLICT,
	      release6(&b));
	check("A READ (10): no SPC-2 reservation was made", GOOD,
	      read10(&a, 0, 1, NULL));
	check("B PERSISTENT RESERVE OUT RESERVE WE", GOOD,
	      pr_out(&b, PRO_RESERVE, PR_WE, KEY_B, 0, false));
	crh = read_crh(&b);
	note("REPORT CAPABILITIES: CRH=%d", crh);
	check(crh == 1 ? "B RESERVE (6) as the persistent reservation holder "
			 "(CRH=1: GOOD, no effect)"
		       : "B RESERVE (6) as the persistent reservation holder "
			 "(CRH=0: SPC-2 rules)",
	      crh == 1 ? GOOD : CONFLICT, reserve6(&b));
	check("A READ (10): still no SPC-2 reservation (WE shares reads)", GOOD,
	      read10(&a, 0, 1, NULL));
	check(crh == 1 ? "B RELEASE (6) as the persistent reservation holder "
			 "(CRH=1: GOOD, no effect)"
		       : "B RELEASE (6) as the persistent reservation holder "
			 "(CRH=0: SPC-2 rules)",
	      crh == 1 ? GOOD : CONFLICT, release6(&b));
	check_resv(&a, "B's WE survives its RELEASE (6)", PR_WE, KEY_B);
	check("A WRITE (10) under B's WE", CONFLICT, write10(&a, 0, 1, NULL));

	printf("== 4. after CLEAR\n");
	check("B CLEAR", GOOD, pr_out(&b, PRO_CLEAR, 0, KEY_B, 0, false));
	check("A RESERVE (6) once no registration is left", GOOD, reserve6(&a));
	check("B READ (10) while A holds it", CONFLICT, read10(&b, 0, 1, NULL));
	check("A RELEASE (6)", GOOD, release6(&a));
	check("B READ (10)", GOOD, read10(&b, 0, 1, NULL));

	printf("== 5. a dropped connection releases it\n");
	check("A RESERVE (6)", GOOD, reserve6(&a));
	check("B READ (10) while A holds it", CONFLICT, read10(&b, 0, 1, NULL));
	nx_drop(&a);
	for (tries = 1;; tries++) {
		r = read10(&b, 0, 1, NULL);
		if (r.status != STATUS_RESV || tries == 50)
			break;
		usleep(100000);
	}
	check("B READ (10) after A's connection dropped (5 s allowed)", GOOD,
	      r);
	note("B's READ needed %d tries at 100 ms", tries);

	printf("== 6. LOGICAL UNIT RESET\n");
	nx_login(&a, argv[1]);
	drain_ua(&a);
	check("A RESERVE (6)", GOOD, reserve6(&a));
	check("B READ (10) while A holds it", CONFLICT, read10(&b, 0, 1, NULL));
	check_true(iscsi_task_mgmt_lun_reset_sync(b.iscsi, b.lun) == 0,
		   "B LOGICAL UNIT RESET answered");
	drain_ua(&a);
	drain_ua(&b);
	check("B READ (10) after the LU reset", GOOD, read10(&b, 0, 1, NULL));
	check("B REGISTER", GOOD, pr_out(&b, PRO_REGISTER, 0, 0, KEY_B, false));
	check("B RESERVE WE", GOOD,
	      pr_out(&b, PRO_RESERVE, PR_WE, KEY_B, 0, false));
	check_true(iscsi_task_mgmt_lun_reset_sync(a.iscsi, a.lun) == 0,
		   "A LOGICAL UNIT RESET answered");
	drain_ua(&a);
	drain_ua(&b);
	check_keys(&a, "after the LU reset", 1, (uint64_t[]){KEY_B});
	check_resv(&a, "B's WE survives the LU reset", PR_WE, KEY_B);
	check("A WRITE (10) under B's WE", CONFLICT, write10(&a, 0, 1, NULL));
	check("B CLEAR", GOOD, pr_out(&b, PRO_CLEAR, 0, KEY_B, 0, false));

	nx_logout(&a);
	nx_logout(&b);
	return pr_exit("pr_spc2");
}
