/*
 * pr_shared: persistent and SPC-2 reservations of one LU served by two
 * gateways (rbd_gateways.sh). Nexus A logs in through gateway A; B (a
 * registrant later) and C (never registered) through gateway B. Each
 * check runs right after the change it depends on, through the other
 * gateway: nothing waits for a cache to catch up.
 *
 * usage: pr_shared URL_A URL_B phase1|phase2|check|clear
 *   phase1  RESERVE WE through A is a conflict for C's WRITE through B at
 *           once; B sees A's keys, reservation and PRGENERATION; after
 *           A's RELEASE, C writes; an SPC-2 RESERVE through B conflicts
 *           with A's WRITE through A until B releases it.
 *   phase2  leaves A and B registered and A holding WE-RO.
 *   check   phase2's state, seen through both gateways (after restarts).
 *   clear   A clears everything.
 */
#include "pr_lib.h"

#define KEY_A 0xa0a0a0a0a0a00001ull
#define KEY_B 0xb0b0b0b0b0b00002ull
#define LBA   64

static struct nexus a = {.label = "A",
			 .name = PR_NAME("shared-a"),
			 .isid_rnd = 0x5a0001,
			 .isid_q = 1};
static struct nexus b = {.label = "B",
			 .name = PR_NAME("shared-b"),
			 .isid_rnd = 0x5a0002,
			 .isid_q = 2};
static struct nexus c = {.label = "C",
			 .name = PR_NAME("shared-c"),
			 .isid_rnd = 0x5a0003,
			 .isid_q = 3};
static uint8_t blk[8 * PR_BLOCK];

/* A clean slate: A registers (whatever is there) and clears. */
static void pr_shared_clean(void)
{
	check("A REGISTER AND IGNORE EXISTING KEY", GOOD,
	      pr_out(&a, PRO_REGISTER_IGNORE, 0, 0, KEY_A, false));
	check("A CLEAR", GOOD, pr_out(&a, PRO_CLEAR, 0, KEY_A, 0, false));
	drain_ua(&a);
	drain_ua(&b);
	drain_ua(&c);
}

static void phase1(void)
{
	struct keys ka, kb;
	struct resv v;

	pr_shared_clean();
	check("A REGISTER", GOOD, pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false));
	check("A RESERVE WE", GOOD,
	      pr_out(&a, PRO_RESERVE, PR_WE, KEY_A, 0, false));
	check("C (gateway B, not registered) WRITE under A's WE", CONFLICT,
	      write10(&c, LBA, 8, blk));
	check("C (gateway B) READ under WE", GOOD, read10(&c, LBA, 8, blk));
	check("A READ KEYS", GOOD, read_keys(&a, &ka));
	check("B READ KEYS (gateway B)", GOOD, read_keys(&b, &kb));
	check_true(kb.n == 1 && kb.key[0] == KEY_A,
		   "gateway B lists A's key: %d key(s), first 0x%llx", kb.n,
		   (unsigned long long)kb.key[0]);
	check_true(ka.gen == kb.gen,
		   "PRGENERATION is one on both gateways: A %u, B %u", ka.gen,
		   kb.gen);
	check_resv(&b, "B READ RESERVATION (gateway B)", PR_WE, KEY_A);
	check("C WRITE still a conflict", CONFLICT, write10(&c, LBA, 8, blk));
	check("A RELEASE", GOOD,
	      pr_out(&a, PRO_RELEASE, PR_WE, KEY_A, 0, false));
	check("C WRITE after A's RELEASE", GOOD, write10(&c, LBA, 8, blk));
	check("B READ RESERVATION after the RELEASE", GOOD, read_resv(&b, &v));
	check_true(!v.held, "no reservation through gateway B after RELEASE");
	/* SPC-2 RESERVE refuses while registrations exist: A leaves. */
	check("A unregisters", GOOD,
	      pr_out(&a, PRO_REGISTER, 0, KEY_A, 0, false));
	check("C RESERVE(6) through gateway B", GOOD, reserve6(&c));
	check("A (gateway A) WRITE under C's RESERVE(6)", CONFLICT,
	      write10(&a, LBA, 8, blk));
	check("A RESERVE(6) under C's", CONFLICT, reserve6(&a));
	check("C RELEASE(6)", GOOD, release6(&c));
	check("A WRITE after C's RELEASE(6)", GOOD, write10(&a, LBA, 8, blk));
}

static void phase2(void)
{
	pr_shared_clean();
	check("A REGISTER", GOOD, pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false));
	check("B REGISTER (gateway B)", GOOD,
	      pr_out(&b, PRO_REGISTER, 0, 0, KEY_B, false));
	check("A RESERVE WE-RO", GOOD,
	      pr_out(&a, PRO_RESERVE, PR_WE_RO, KEY_A, 0, false));
}

static void check_state(void)
{
	const uint64_t want[2] = {KEY_A, KEY_B};
	uint32_t ga, gb;

	drain_ua(&a);
	drain_ua(&b);
	drain_ua(&c);
	ga = check_keys(&a, "A READ KEYS", 2, want);
	gb = check_keys(&b, "B READ KEYS (gateway B)", 2, want);
	check_true(ga == gb && ga > 0,
		   "PRGENERATION survives and is one: A %u, B %u", ga, gb);
	check_resv(&a, "A READ RESERVATION", PR_WE_RO, KEY_A);
	check_resv(&b, "B READ RESERVATION (gateway B)", PR_WE_RO, KEY_A);
	check("B (registrant) WRITE under WE-RO", GOOD,
	      write10(&b, LBA, 8, blk));
	check("C (not registered) WRITE under WE-RO", CONFLICT,
	      write10(&c, LBA, 8, blk));
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: pr_shared URL_A URL_B "
				"phase1|phase2|check|clear\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(blk, 0x5a, sizeof(blk));
	nx_login(&a, argv[1]);
	nx_login(&b, argv[2]);
	nx_login(&c, argv[2]);
	drain_ua(&a);
	drain_ua(&b);
	drain_ua(&c);
	if (!strcmp(argv[3], "phase1"))
		phase1();
	else if (!strcmp(argv[3], "phase2"))
		phase2();
	else if (!strcmp(argv[3], "check"))
		check_state();
	else
		pr_shared_clean();
	nx_logout(&a);
	nx_logout(&b);
	nx_logout(&c);
	return pr_exit("pr_shared");
}
