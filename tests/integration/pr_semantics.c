/*
 * pr_semantics: PERSISTENT RESERVE OUT service actions and what PERSISTENT
 * RESERVE IN reports after each, per SPC-5 (6.16 PERSISTENT RESERVE IN,
 * 6.17 PERSISTENT RESERVE OUT, 5.13.7 registering, 5.13.9 reserving,
 * 5.13.11 releasing, preempting, clearing). Three I_T nexuses (three
 * initiator names) A, B and C, and a fourth, O, that only reads (READ
 * KEYS, READ RESERVATION): never registered, it has no unit attention of
 * these to eat (PERSISTENT RESERVE IN reports unit attentions too).
 *
 *  - REGISTER with a RESERVATION KEY that is not the nexus's key, RESERVE
 *    with a wrong key or from an unregistered nexus, RESERVE of another
 *    type by the holder, RELEASE with a wrong key: RESERVATION CONFLICT.
 *  - RELEASE by the holder with the wrong type: CHECK CONDITION, ILLEGAL
 *    REQUEST, INVALID RELEASE OF PERSISTENT RESERVATION (05/26/04), and the
 *    reservation stays; RELEASE by a registrant that does not hold it:
 *    GOOD, and the reservation stays.
 *  - Unregistering the holder of a WE or EA reservation releases it;
 *    unregistering the holder of a registrants only one also gives the
 *    other registrants RESERVATIONS RELEASED (2A/04).
 *  - PREEMPT of a registrant's key removes its registration (it gets
 *    REGISTRATIONS PREEMPTED, 2A/05, on its next command); PREEMPT of the
 *    holder's key moves the reservation to the preempting nexus, with the
 *    type given in the PREEMPT (when the type changes, the registrants
 *    that stay get RESERVATIONS RELEASED, 2A/04); PREEMPT of key 0 is
 *    INVALID FIELD IN PARAMETER LIST unless the reservation is all
 *    registrants, where it removes every other registration and gives the
 *    preempting nexus a reservation of the new type.
 *  - An all registrants reservation lasts until its last registrant
 *    unregisters.
 *  - RELEASE of an RO or AR reservation gives every other registrant
 *    RESERVATIONS RELEASED (2A/04), not the releasing nexus; under an AR
 *    type any registrant may release it. CLEAR gives every other registrant
 *    RESERVATIONS PREEMPTED (2A/03).
 *  - Malformed requests: PARAMETER LIST LENGTH not 24 (05/1A/00), an
 *    obsolete TYPE or SCOPE, an unknown PERSISTENT RESERVE IN service
 *    action (INVALID FIELD IN CDB, 05/24/00).
 *  - Reservations are per logical unit: with OTHER_LUN given, the same
 *    I_T nexuses see nothing of LUN's registrations and reservation there.
 *  - READ KEYS and READ RESERVATION contents after each step, and
 *    PRgeneration: +1 for each REGISTER, REGISTER AND IGNORE EXISTING KEY,
 *    PREEMPT and CLEAR that succeeds, +0 for RESERVE, RELEASE and anything
 *    that fails (SPC-5 6.16.2).
 *
 * usage: pr_semantics URL [OTHER_LUN]   (OTHER_LUN: another LUN of the
 *                                       same target)
 * Exit 0 when every check holds, 1 otherwise, 2 when it could not run.
 */
#include "pr_lib.h"

#define KEY_A  0xa1a1a1a1a1a1a1a1ull
#define KEY_B  0xb2b2b2b2b2b2b2b2ull
#define KEY_C  0xc3c3c3c3c3c3c3c3ull
#define KEY_C2 0xc4c4c4c4c4c4c4c4ull
#define KEY_X  0x0badbadbadbadbadull /* nobody's */

static struct nexus a = {
    .label = "A", .name = PR_NAME("sem-a"), .isid_rnd = 0x5e0001, .isid_q = 1};
static struct nexus b = {
    .label = "B", .name = PR_NAME("sem-b"), .isid_rnd = 0x5e0002, .isid_q = 2};
static struct nexus c = {
    .label = "C", .name = PR_NAME("sem-c"), .isid_rnd = 0x5e0003, .isid_q = 3};
/* Never registers, so never gets a reservation unit attention: reads
 * the keys, the reservation and PRgeneration. */
static struct nexus o = {.label = "O",
			 .name = PR_NAME("sem-observer"),
			 .isid_rnd = 0x5e0004,
			 .isid_q = 4};
static uint32_t gen;

/* PRgeneration must have moved by delta since the last call. */
static void expect_gen(uint32_t delta, const char *after)
{
	struct keys k;
	struct res r = read_keys(&o, &k);

	if (r.status != STATUS_GOOD) {
		check("READ KEYS for PRgeneration", GOOD, r);
		return;
	}
	check_true(k.gen == gen + delta,
		   "PRgeneration after %s: expected %u (+%u), got %u", after,
		   gen + delta, delta, k.gen);
	gen = k.gen;
}

static void step(const char *what, struct res want, struct res got,
		 uint32_t gen_delta)
{
	check(what, want, got);
	expect_gen(gen_delta, what);
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: pr_semantics URL [OTHER_LUN]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	nx_login(&a, argv[1]);
	nx_login(&b, argv[1]);
	nx_login(&c, argv[1]);
	nx_login(&o, argv[1]);
	drain_ua(&o);
	drain_ua(&a);
	drain_ua(&b);
	drain_ua(&c);
	gen = check_keys(&o, "initially", 0, NULL);
	check_resv(&o, "initially", 0, 0);

	printf("\n== registering\n");
	step("A REGISTER KEY_A", GOOD,
	     pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false), 1);
	step("B REGISTER KEY_B", GOOD,
	     pr_out(&b, PRO_REGISTER, 0, 0, KEY_B, false), 1);
	check_keys(&o, "A and B registered", 2, (uint64_t[]){KEY_A, KEY_B});
	step("C (not registered) REGISTER with a non-zero RESERVATION KEY",
	     CONFLICT, pr_out(&c, PRO_REGISTER, 0, KEY_X, KEY_C, false), 0);
	step("A REGISTER with RESERVATION KEY not its own", CONFLICT,
	     pr_out(&a, PRO_REGISTER, 0, KEY_X, KEY_C, false), 0);
	check_keys(&o, "after the refused REGISTER", 2,
		   (uint64_t[]){KEY_A, KEY_B});

	printf("\n== malformed requests\n");
	{
		uint8_t cdb[10] = {0x5f, PRO_REGISTER}, par[24] = {0};

		put_be64(par, KEY_A);
		put_be64(par + 8, KEY_A);
		put_be32(cdb + 5, 20);
		step("A REGISTER with PARAMETER LIST LENGTH 20",
		     sense(SCSI_SENSE_ILLEGAL_REQUEST, 0x1a, 0x00),
		     nx_cmd(&a, cdb, 10, par, 20, NULL, 0, NULL), 0);
	}
	step("A RESERVE with TYPE 2 (obsolete)",
	     sense(SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00),
	     pr_out(&a, PRO_RESERVE, 2, KEY_A, 0, false), 0);
	step("A RESERVE with SCOPE 1 (obsolete)",
	     sense(SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00),
	     pr_out(&a, PRO_RESERVE, 0x10 | PR_WE, KEY_A, 0, false), 0);
	{
		uint8_t cdb[10] = {0x5e, 0x1f}, buf[64];
		size_t got;

		put_be16(cdb + 7, sizeof(buf));
		check("PERSISTENT RESERVE IN with service action 1Fh",
		      sense(SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00),
		      nx_cmd(&a, cdb, 10, NULL, 0, buf, sizeof(buf), &got));
	}
	check_resv(&o, "after the malformed requests", 0, 0);

	printf("\n== reserving\n");
	step("A RESERVE WE with B's key", CONFLICT,
	     pr_out(&a, PRO_RESERVE, PR_WE, KEY_B, 0, false), 0);
	step("A RESERVE WE with nobody's key", CONFLICT,
	     pr_out(&a, PRO_RESERVE, PR_WE, KEY_X, 0, false), 0);
	step("C (not registered) RESERVE WE", CONFLICT,
	     pr_out(&c, PRO_RESERVE, PR_WE, 0, 0, false), 0);
	check_resv(&o, "after the refused RESERVEs", 0, 0);
	step("A RESERVE WE", GOOD,
	     pr_out(&a, PRO_RESERVE, PR_WE, KEY_A, 0, false), 0);
	check_resv(&o, "A holds WE", PR_WE, KEY_A);
	step("A RESERVE WE again (same type: no change)", GOOD,
	     pr_out(&a, PRO_RESERVE, PR_WE, KEY_A, 0, false), 0);
	step("A RESERVE EA while holding WE", CONFLICT,
	     pr_out(&a, PRO_RESERVE, PR_EA, KEY_A, 0, false), 0);
	step("B RESERVE WE while A holds it", CONFLICT,
	     pr_out(&b, PRO_RESERVE, PR_WE, KEY_B, 0, false), 0);
	check_resv(&o, "still A's WE", PR_WE, KEY_A);

	printf("\n== releasing\n");
	step("A RELEASE with type EA (holds WE)",
	     sense(SCSI_SENSE_ILLEGAL_REQUEST, 0x26, 0x04),
	     pr_out(&a, PRO_RELEASE, PR_EA, KEY_A, 0, false), 0);
	check_resv(&o, "after RELEASE with the wrong type", PR_WE, KEY_A);
	step("A RELEASE with a wrong key", CONFLICT,
	     pr_out(&a, PRO_RELEASE, PR_WE, KEY_X, 0, false), 0);
	step("B (registrant, not holder) RELEASE WE", GOOD,
	     pr_out(&b, PRO_RELEASE, PR_WE, KEY_B, 0, false), 0);
	check_resv(&o, "after B's RELEASE (no effect)", PR_WE, KEY_A);
	step("C (not registered) RELEASE WE", CONFLICT,
	     pr_out(&c, PRO_RELEASE, PR_WE, 0, 0, false), 0);
	check("C WRITE under A's WE", CONFLICT, write10(&c, 0, 1, NULL));
	if (argc == 3) {
		/* The same sessions, another LU: other ITL nexuses. */
		struct nexus c2 = c, o2 = o;

		c2.lun = o2.lun = atoi(argv[2]);
		drain_ua(&c2);
		drain_ua(&o2);
		check_keys(&o2, "LUN 2 has no registration", 0, NULL);
		check_resv(&o2, "LUN 2 has no reservation", 0, 0);
		check("C WRITE to the other LUN", GOOD,
		      write10(&c2, 0, 1, NULL));
	}

	printf("\n== unregistering the holder of WE or EA releases it\n");
	step("A REGISTER with SERVICE ACTION RESERVATION KEY 0 (unregister)",
	     GOOD, pr_out(&a, PRO_REGISTER, 0, KEY_A, 0, false), 1);
	check_resv(&o, "after the holder unregistered", 0, 0);
	check_keys(&o, "after A unregistered", 1, (uint64_t[]){KEY_B});
	check("C WRITE once nothing is reserved", GOOD,
	      write10(&c, 0, 1, NULL));
	step("A REGISTER KEY_A", GOOD,
	     pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false), 1);
	step("A RESERVE EA", GOOD,
	     pr_out(&a, PRO_RESERVE, PR_EA, KEY_A, 0, false), 0);
	check("C READ under A's EA", CONFLICT, read10(&c, 0, 1, NULL));
	step("A unregisters while holding EA", GOOD,
	     pr_out(&a, PRO_REGISTER, 0, KEY_A, 0, false), 1);
	check_resv(&o, "after the EA holder unregistered", 0, 0);
	check("C READ once nothing is reserved", GOOD, read10(&c, 0, 1, NULL));
	drain_ua(&b);

	printf("\n== PREEMPT of a registrant\n");
	step("A REGISTER KEY_A", GOOD,
	     pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false), 1);
	step("A RESERVE EA", GOOD,
	     pr_out(&a, PRO_RESERVE, PR_EA, KEY_A, 0, false), 0);
	step("A PREEMPT with SERVICE ACTION RESERVATION KEY 0 (EA is not "
	     "an all registrants type)",
	     sense(SCSI_SENSE_ILLEGAL_REQUEST, 0x26, 0x00),
	     pr_out(&a, PRO_PREEMPT, PR_EA, KEY_A, 0, false), 0);
	step("A PREEMPT with a key nobody has", CONFLICT,
	     pr_out(&a, PRO_PREEMPT, PR_EA, KEY_A, KEY_X, false), 0);
	step("A PREEMPT EA of KEY_B", GOOD,
	     pr_out(&a, PRO_PREEMPT, PR_EA, KEY_A, KEY_B, false), 1);
	check_keys(&o, "after A preempted B", 1, (uint64_t[]){KEY_A});
	check_resv(&o, "A still holds EA", PR_EA, KEY_A);
	check_ua(&b, "B's next command: REGISTRATIONS PREEMPTED", 0x2a, 0x05);
	check("B READ under A's EA (B no longer registered)", CONFLICT,
	      read10(&b, 0, 1, NULL));
	check("A TEST UNIT READY (no unit attention for the preempting "
	      "nexus)",
	      GOOD, tur(&a));

	printf("\n== PREEMPT of the holder takes the reservation\n");
	step("B REGISTER KEY_B", GOOD,
	     pr_out(&b, PRO_REGISTER, 0, 0, KEY_B, false), 1);
	step("B PREEMPT of KEY_A with type WE", GOOD,
	     pr_out(&b, PRO_PREEMPT, PR_WE, KEY_B, KEY_A, false), 1);
	check_resv(&o, "B holds WE now", PR_WE, KEY_B);
	check_keys(&o, "after B preempted A", 1, (uint64_t[]){KEY_B});
	check_ua(&a, "A's next command: REGISTRATIONS PREEMPTED", 0x2a, 0x05);
	check("A WRITE under B's WE", CONFLICT, write10(&a, 0, 1, NULL));
	check("B WRITE (holder)", GOOD, write10(&b, 0, 1, NULL));
	step("B RELEASE WE", GOOD,
	     pr_out(&b, PRO_RELEASE, PR_WE, KEY_B, 0, false), 0);
	check_resv(&o, "after B's RELEASE", 0, 0);
	step("A REGISTER KEY_A", GOOD,
	     pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false), 1);

	printf("\n== RELEASE of a registrants only reservation\n");
	step("C REGISTER KEY_C", GOOD,
	     pr_out(&c, PRO_REGISTER, 0, 0, KEY_C, false), 1);
	drain_ua(&a);
	drain_ua(&b);
	drain_ua(&c);
	step("A RESERVE WE-RO", GOOD,
	     pr_out(&a, PRO_RESERVE, PR_WE_RO, KEY_A, 0, false), 0);
	step("A RELEASE WE-RO", GOOD,
	     pr_out(&a, PRO_RELEASE, PR_WE_RO, KEY_A, 0, false), 0);
	check_resv(&o, "after RELEASE of WE-RO", 0, 0);
	check("A's next command (the releasing nexus: no unit attention)", GOOD,
	      tur(&a));
	check_ua(&b, "B's next command: RESERVATIONS RELEASED", 0x2a, 0x04);
	check_ua(&c, "C's next command: RESERVATIONS RELEASED", 0x2a, 0x04);

	printf("\n== any registrant may release an all registrants "
	       "reservation\n");
	step("A RESERVE EA-AR", GOOD,
	     pr_out(&a, PRO_RESERVE, PR_EA_AR, KEY_A, 0, false), 0);
	check_resv(&o, "EA-AR (key reads 0)", PR_EA_AR, 0);
	step("B RELEASE EA-AR", GOOD,
	     pr_out(&b, PRO_RELEASE, PR_EA_AR, KEY_B, 0, false), 0);
	check_resv(&o, "after B released EA-AR", 0, 0);
	check("B's next command (the releasing nexus: no unit attention)", GOOD,
	      tur(&b));
	check_ua(&a, "A's next command: RESERVATIONS RELEASED", 0x2a, 0x04);
	check_ua(&c, "C's next command: RESERVATIONS RELEASED", 0x2a, 0x04);

	printf("\n== unregistering the holder of a registrants only "
	       "reservation\n");
	step("A RESERVE WE-RO", GOOD,
	     pr_out(&a, PRO_RESERVE, PR_WE_RO, KEY_A, 0, false), 0);
	step("A unregisters", GOOD,
	     pr_out(&a, PRO_REGISTER, 0, KEY_A, 0, false), 1);
	check_resv(&o, "after the WE-RO holder unregistered", 0, 0);
	check_ua(&b, "B's next command: RESERVATIONS RELEASED", 0x2a, 0x04);
	check_ua(&c, "C's next command: RESERVATIONS RELEASED", 0x2a, 0x04);
	check("A's next command (the unregistering nexus)", GOOD, tur(&a));

	printf("\n== all registrants: held while any registrant is left\n");
	step("A REGISTER KEY_A", GOOD,
	     pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false), 1);
	step("A RESERVE WE-AR", GOOD,
	     pr_out(&a, PRO_RESERVE, PR_WE_AR, KEY_A, 0, false), 0);
	step("A unregisters", GOOD,
	     pr_out(&a, PRO_REGISTER, 0, KEY_A, 0, false), 1);
	check_resv(&o, "WE-AR still held by B and C", PR_WE_AR, 0);
	check("C WRITE (registrant: a holder)", GOOD, write10(&c, 0, 1, NULL));
	check("A WRITE (no longer registered)", CONFLICT,
	      write10(&a, 0, 1, NULL));
	step("B unregisters", GOOD,
	     pr_out(&b, PRO_REGISTER, 0, KEY_B, 0, false), 1);
	check_resv(&o, "WE-AR still held by C", PR_WE_AR, 0);
	step("C unregisters (the last registrant)", GOOD,
	     pr_out(&c, PRO_REGISTER, 0, KEY_C, 0, false), 1);
	check_resv(&o, "after the last registrant left", 0, 0);
	check("A WRITE once nothing is reserved", GOOD,
	      write10(&a, 0, 1, NULL));

	printf("\n== PREEMPT under an all registrants reservation\n");
	step("A REGISTER KEY_A", GOOD,
	     pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false), 1);
	step("B REGISTER KEY_B", GOOD,
	     pr_out(&b, PRO_REGISTER, 0, 0, KEY_B, false), 1);
	step("C REGISTER KEY_C", GOOD,
	     pr_out(&c, PRO_REGISTER, 0, 0, KEY_C, false), 1);
	step("A RESERVE EA-AR", GOOD,
	     pr_out(&a, PRO_RESERVE, PR_EA_AR, KEY_A, 0, false), 0);
	step("A PREEMPT EA-AR of KEY_B", GOOD,
	     pr_out(&a, PRO_PREEMPT, PR_EA_AR, KEY_A, KEY_B, false), 1);
	check_keys(&o, "B preempted", 2, (uint64_t[]){KEY_A, KEY_C});
	check_resv(&o, "EA-AR unchanged", PR_EA_AR, 0);
	check_ua(&b, "B's next command: REGISTRATIONS PREEMPTED", 0x2a, 0x05);
	check("C's next command (still registered, reservation unchanged)",
	      GOOD, tur(&c));
	step("A PREEMPT with SERVICE ACTION RESERVATION KEY 0, type WE "
	     "(all registrants: everyone else out, WE for A)",
	     GOOD, pr_out(&a, PRO_PREEMPT, PR_WE, KEY_A, 0, false), 1);
	check_keys(&o, "after PREEMPT of key 0", 1, (uint64_t[]){KEY_A});
	check_resv(&o, "A holds WE", PR_WE, KEY_A);
	check_ua(&c, "C's next command: REGISTRATIONS PREEMPTED", 0x2a, 0x05);
	check("A's next command", GOOD, tur(&a));
	check("C WRITE under A's WE", CONFLICT, write10(&c, 0, 1, NULL));
	step("B REGISTER KEY_B", GOOD,
	     pr_out(&b, PRO_REGISTER, 0, 0, KEY_B, false), 1);
	step("C REGISTER KEY_C", GOOD,
	     pr_out(&c, PRO_REGISTER, 0, 0, KEY_C, false), 1);

	printf("\n== PREEMPT of the holder that changes the type\n");
	step("B PREEMPT of KEY_A with type EA (A holds WE)", GOOD,
	     pr_out(&b, PRO_PREEMPT, PR_EA, KEY_B, KEY_A, false), 1);
	check_resv(&o, "B holds EA", PR_EA, KEY_B);
	check_keys(&o, "A preempted", 2, (uint64_t[]){KEY_B, KEY_C});
	check_ua(&a, "A's next command: REGISTRATIONS PREEMPTED", 0x2a, 0x05);
	check_ua(&c,
		 "C's next command: RESERVATIONS RELEASED (registered, the "
		 "type changed)",
		 0x2a, 0x04);
	check("B's next command (the preempting nexus)", GOOD, tur(&b));
	step("B RELEASE EA", GOOD,
	     pr_out(&b, PRO_RELEASE, PR_EA, KEY_B, 0, false), 0);
	step("A REGISTER KEY_A", GOOD,
	     pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false), 1);

	printf("\n== CLEAR\n");
	step("A RESERVE WE", GOOD,
	     pr_out(&a, PRO_RESERVE, PR_WE, KEY_A, 0, false), 0);
	step("B CLEAR with a wrong key", CONFLICT,
	     pr_out(&b, PRO_CLEAR, 0, KEY_X, 0, false), 0);
	step("B CLEAR", GOOD, pr_out(&b, PRO_CLEAR, 0, KEY_B, 0, false), 1);
	check_keys(&o, "after CLEAR", 0, NULL);
	check_resv(&o, "after CLEAR", 0, 0);
	check("B's next command (the clearing nexus)", GOOD, tur(&b));
	check_ua(&a, "A's next command: RESERVATIONS PREEMPTED", 0x2a, 0x03);
	check_ua(&c, "C's next command: RESERVATIONS PREEMPTED", 0x2a, 0x03);

	printf("\n== REGISTER AND IGNORE EXISTING KEY\n");
	step("C REGISTER AND IGNORE EXISTING KEY KEY_C", GOOD,
	     pr_out(&c, PRO_REGISTER_IGNORE, 0, 0, KEY_C, false), 1);
	step("C REGISTER AND IGNORE EXISTING KEY KEY_C2 (any key given)", GOOD,
	     pr_out(&c, PRO_REGISTER_IGNORE, 0, KEY_X, KEY_C2, false), 1);
	check_keys(&o, "C changed its key", 1, (uint64_t[]){KEY_C2});
	step("C REGISTER AND IGNORE EXISTING KEY 0 (unregister)", GOOD,
	     pr_out(&c, PRO_REGISTER_IGNORE, 0, 0, 0, false), 1);
	check_keys(&o, "at the end", 0, NULL);

	nx_logout(&a);
	nx_logout(&b);
	nx_logout(&c);
	nx_logout(&o);
	return pr_exit("pr_semantics");
}
