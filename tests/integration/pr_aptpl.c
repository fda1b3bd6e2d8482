/*
 * pr_aptpl: Activate Persist Through Power Loss (SPC-5 5.13.5, 6.17.3):
 * registrations and the reservation made with APTPL=1 survive a power loss
 * (for lunard: kill -9 and a restart with the same --state-dir), those made
 * with APTPL=0 do not. Driven by tests/integration/pr_aptpl.sh in phases:
 *
 *   pr_aptpl before URL1 URL2
 *     LUN of URL1: A (fixed name and ISID) REGISTERs with APTPL=1 and
 *     RESERVEs WE; REPORT CAPABILITIES says PTPL_C=1 and PTPL_A=1.
 *     LUN of URL2: D REGISTERs with APTPL=0; PTPL_A=0 there. Then E
 *     REGISTERs with APTPL=1 and D again (REGISTER AND IGNORE EXISTING KEY)
 *     with APTPL=0: the last APTPL received governs (SPC-5 5.13.5), so
 *     PTPL_A=0 and nothing of LUN 2 survives.
 *   pr_aptpl after URL1 URL2          (after kill -9 and restart)
 *     URL1: from a new nexus C, READ KEYS lists A's key, READ RESERVATION
 *     shows A's key and type WE, C's WRITE conflicts (C's READ does not);
 *     A (same name and ISID: the same I_T nexus) still holds it: its
 *     WRITE is GOOD. PTPL_A is still 1. Then A RELEASEs, C REGISTERs
 *     (APTPL=1) and RESERVEs EA.
 *     URL2: no registration, no reservation.
 *   pr_aptpl after2 URL1               (after another kill -9 and restart)
 *     Both keys, C holds EA (A's WRITE conflicts, C's does not). A
 *     PREEMPTs C's key with type WE.
 *   pr_aptpl after3 URL1               (after another kill -9 and restart)
 *     Only A's key, A holds WE, C's WRITE conflicts. A CLEARs.
 *   pr_aptpl cleared URL1              (after another kill -9 and restart)
 *     URL1: the CLEAR persisted: no registration, no reservation, C's
 *     WRITE is GOOD.
 *
 * Exit 0 when every check holds, 1 otherwise, 2 when it could not run.
 */
#include "pr_lib.h"

#define KEY_A 0xa9a9a9a9a9a90001ull
#define KEY_C 0xc9c9c9c9c9c90003ull
#define KEY_D 0xd9d9d9d9d9d90004ull
#define KEY_E 0xe9e9e9e9e9e90005ull

static struct nexus a = {.label = "A",
			 .name = PR_NAME("aptpl-a"),
			 .isid_rnd = 0xa97101,
			 .isid_q = 1};
static struct nexus c = {.label = "C",
			 .name = PR_NAME("aptpl-c"),
			 .isid_rnd = 0xa97103,
			 .isid_q = 3};
static struct nexus e = {.label = "E",
			 .name = PR_NAME("aptpl-e"),
			 .isid_rnd = 0xa97105,
			 .isid_q = 5};
static struct nexus d = {.label = "D",
			 .name = PR_NAME("aptpl-d"),
			 .isid_rnd = 0xa97104,
			 .isid_q = 4};

/* REPORT CAPABILITIES: PTPL_C must be 1 (lunard has a state directory),
 * PTPL_A as given. */
static void check_ptpl(struct nexus *nx, const char *what, int ptpl_a)
{
	uint8_t buf[8];
	size_t got;
	struct res r =
	    pr_in(nx, PRI_REPORT_CAPABILITIES, buf, sizeof(buf), &got);

	if (!check("REPORT CAPABILITIES", GOOD, r))
		return;
	if (!check_true(got == 8, "%s: REPORT CAPABILITIES is 8 bytes, got %zu",
			what, got))
		return;
	check_true((buf[2] & 1) == 1 && (buf[3] & 1) == ptpl_a,
		   "%s: REPORT CAPABILITIES expected PTPL_C=1 PTPL_A=%d, got "
		   "PTPL_C=%d PTPL_A=%d",
		   what, ptpl_a, buf[2] & 1, buf[3] & 1);
}

static void before(const char *url1, const char *url2)
{
	nx_login(&a, url1);
	nx_login(&c, url1);
	nx_login(&d, url2);
	drain_ua(&a);
	drain_ua(&c);
	drain_ua(&d);
	check_keys(&a, "LUN 1 initially", 0, NULL);
	check("A REGISTER with APTPL=1", GOOD,
	      pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, true));
	check("A RESERVE WE", GOOD,
	      pr_out(&a, PRO_RESERVE, PR_WE, KEY_A, 0, false));
	check_ptpl(&a, "LUN 1 after APTPL=1", 1);
	check_keys(&c, "LUN 1 before the restart", 1, (uint64_t[]){KEY_A});
	check_resv(&c, "LUN 1 before the restart", PR_WE, KEY_A);
	check("C WRITE to LUN 1 before the restart", CONFLICT,
	      write10(&c, 0, 1, NULL));
	check("D REGISTER with APTPL=0 on LUN 2", GOOD,
	      pr_out(&d, PRO_REGISTER, 0, 0, KEY_D, false));
	check_ptpl(&d, "LUN 2 after APTPL=0", 0);
	check_keys(&d, "LUN 2 before the restart", 1, (uint64_t[]){KEY_D});
	nx_login(&e, url2);
	drain_ua(&e);
	check("E REGISTER with APTPL=1 on LUN 2", GOOD,
	      pr_out(&e, PRO_REGISTER, 0, 0, KEY_E, true));
	check_ptpl(&d, "LUN 2 after E's APTPL=1", 1);
	check("D REGISTER AND IGNORE EXISTING KEY with APTPL=0 on LUN 2", GOOD,
	      pr_out(&d, PRO_REGISTER_IGNORE, 0, 0, KEY_D, false));
	check_ptpl(&d, "LUN 2 after D's APTPL=0 (the last one governs)", 0);
	check_keys(&d, "LUN 2 before the restart", 2,
		   (uint64_t[]){KEY_D, KEY_E});
	nx_logout(&a);
	nx_logout(&c);
	nx_logout(&d);
	nx_logout(&e);
}

static void after(const char *url1, const char *url2)
{
	nx_login(&c, url1);
	drain_ua(&c);
	check_keys(&c, "LUN 1 after the restart (APTPL=1)", 1,
		   (uint64_t[]){KEY_A});
	check_resv(&c, "LUN 1 after the restart (APTPL=1)", PR_WE, KEY_A);
	check("C (not registered) WRITE to LUN 1 after the restart", CONFLICT,
	      write10(&c, 0, 1, NULL));
	check("C READ of LUN 1 after the restart (WE: reads shared)", GOOD,
	      read10(&c, 0, 1, NULL));
	nx_login(&a, url1);
	drain_ua(&a);
	check("A (same name and ISID) WRITE to LUN 1: still the holder", GOOD,
	      write10(&a, 0, 1, NULL));
	check_ptpl(&a, "LUN 1 after the restart", 1);
	check("A RELEASE", GOOD,
	      pr_out(&a, PRO_RELEASE, PR_WE, KEY_A, 0, false));
	check("C REGISTER with APTPL=1", GOOD,
	      pr_out(&c, PRO_REGISTER, 0, 0, KEY_C, true));
	check("C RESERVE EA", GOOD,
	      pr_out(&c, PRO_RESERVE, PR_EA, KEY_C, 0, false));

	nx_login(&d, url2);
	drain_ua(&d);
	check_keys(&d, "LUN 2 after the restart (last APTPL was 0)", 0, NULL);
	check_resv(&d, "LUN 2 after the restart (last APTPL was 0)", 0, 0);
	nx_logout(&a);
	nx_logout(&c);
	nx_logout(&d);
}

static void after2(const char *url1)
{
	nx_login(&a, url1);
	nx_login(&c, url1);
	drain_ua(&a);
	drain_ua(&c);
	check_keys(&a, "LUN 1 after RELEASE, REGISTER, RESERVE and a restart",
		   2, (uint64_t[]){KEY_A, KEY_C});
	check_resv(&a, "LUN 1 after RELEASE, REGISTER, RESERVE and a restart",
		   PR_EA, KEY_C);
	check("A WRITE (registered, not the holder of EA)", CONFLICT,
	      write10(&a, 0, 1, NULL));
	check("C WRITE (holder of EA)", GOOD, write10(&c, 0, 1, NULL));
	check("A PREEMPT of C's key, type WE", GOOD,
	      pr_out(&a, PRO_PREEMPT, PR_WE, KEY_A, KEY_C, false));
	nx_logout(&a);
	nx_logout(&c);
}

static void after3(const char *url1)
{
	nx_login(&a, url1);
	nx_login(&c, url1);
	drain_ua(&a);
	drain_ua(&c);
	check_keys(&c, "LUN 1 after PREEMPT and a restart", 1,
		   (uint64_t[]){KEY_A});
	check_resv(&c, "LUN 1 after PREEMPT and a restart", PR_WE, KEY_A);
	check("C WRITE (preempted before the restart)", CONFLICT,
	      write10(&c, 0, 1, NULL));
	check("A CLEAR", GOOD, pr_out(&a, PRO_CLEAR, 0, KEY_A, 0, false));
	check_keys(&c, "LUN 1 after CLEAR", 0, NULL);
	nx_logout(&a);
	nx_logout(&c);
}

static void cleared(const char *url1)
{
	nx_login(&c, url1);
	drain_ua(&c);
	check_keys(&c, "LUN 1 after CLEAR and a restart", 0, NULL);
	check_resv(&c, "LUN 1 after CLEAR and a restart", 0, 0);
	check("C WRITE to LUN 1 after CLEAR and a restart", GOOD,
	      write10(&c, 0, 1, NULL));
	nx_logout(&c);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "before"))
		before(argv[2], argv[3]);
	else if (argc == 4 && !strcmp(argv[1], "after"))
		after(argv[2], argv[3]);
	else if (argc == 3 && !strcmp(argv[1], "after2"))
		after2(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "after3"))
		after3(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "cleared"))
		cleared(argv[2]);
	else {
		fprintf(stderr, "usage: pr_aptpl before|after URL1 URL2\n"
				"       pr_aptpl after2|after3|cleared URL1\n");
		return 2;
	}
	return pr_exit(argv[1]);
}
