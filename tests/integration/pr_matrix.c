/*
 * pr_matrix: what each kind of I_T nexus may do under each persistent
 * reservation type, from the standards and not from lunar:
 *
 *  - SPC-5 6.17.4 (persistent reservation type codes) and SBC-4 4.17
 *    (table "SBC commands that are allowed in the presence of various
 *    reservations"): READ (10) is a read, WRITE (10) a write;
 *      WE (1)     reads shared, writes only by the holder;
 *      EA (3)     reads and writes only by the holder;
 *      WE-RO (5)  reads shared, writes by registrants;
 *      EA-RO (6)  reads and writes by registrants;
 *      WE-AR (7), EA-AR (8): as RO, and every registrant is a holder.
 *    Anything else ends in RESERVATION CONFLICT.
 *    READ (16) is a read; WRITE (16) and WRITE SAME (16) are writes.
 *  - SPC-5 5.13.1 (table of SPC commands allowed in the presence of
 *    persistent reservations): INQUIRY, TEST UNIT READY, REPORT LUNS,
 *    REQUEST SENSE and PERSISTENT RESERVE IN are allowed from every I_T
 *    nexus under every type; SBC-4: so is READ CAPACITY.
 *
 * Three nexuses (three initiator names, or with "same-name" one initiator
 * name and three ISIDs): A registers and reserves (the holder), B
 * registers (a registrant; a holder too for the AR types), C does nothing. For
 * each type every nexus runs each command; the program prints one row per
 * command (expected vs actual) and fails on any difference. Between types A's
 * CLEAR removes everything; SPC-5 5.13.11.6 (CLEAR) gives every other
 * registrant the unit attention RESERVATIONS PREEMPTED (2A/03), which is
 * checked too.
 *
 * usage: pr_matrix URL [same-name]
 *   (iscsi://127.0.0.1:PORT/IQN/LUN, 512-byte LUN)
 * Exit 0 when every check holds, 1 otherwise, 2 when it could not run.
 */
#include "pr_lib.h"

#define KEY_A 0xa0a0a0a0a0a0a001ull
#define KEY_B 0xb0b0b0b0b0b0b002ull

static bool reads_ok(int type, bool registered, bool holder)
{
	switch (type) {
	case PR_WE:
	case PR_WE_RO:
	case PR_WE_AR:
		return true;
	case PR_EA:
		return holder;
	default: /* EA-RO, EA-AR */
		return registered;
	}
}

static bool writes_ok(int type, bool registered, bool holder)
{
	switch (type) {
	case PR_WE:
	case PR_EA:
		return holder;
	default: /* the RO and AR types */
		return registered;
	}
}

static struct res read16(struct nexus *nx, uint64_t lba)
{
	uint8_t cdb[16] = {0x88}, buf[PR_BLOCK];
	size_t got;

	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, 1);
	return nx_cmd(nx, cdb, 16, NULL, 0, buf, sizeof(buf), &got);
}

/* WRITE (16) (0x8a) or WRITE SAME (16) (0x93) of one block. */
static struct res write16(struct nexus *nx, uint8_t op, uint64_t lba,
			  const uint8_t *data)
{
	uint8_t cdb[16] = {op};

	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, 1);
	return nx_cmd(nx, cdb, 16, data, PR_BLOCK, NULL, 0, NULL);
}

static struct res report_luns(struct nexus *nx)
{
	uint8_t cdb[12] = {0xa0}, buf[256];
	size_t got;

	put_be32(cdb + 6, sizeof(buf));
	return nx_cmd(nx, cdb, 12, NULL, 0, buf, sizeof(buf), &got);
}

static struct res request_sense(struct nexus *nx)
{
	uint8_t cdb[6] = {0x03, 0, 0, 0, 18, 0}, buf[18];
	size_t got;

	return nx_cmd(nx, cdb, 6, NULL, 0, buf, sizeof(buf), &got);
}

static struct res read_keys_status(struct nexus *nx)
{
	struct keys k;

	return read_keys(nx, &k);
}

static void row(int type, const struct nexus *nx, const char *cmd,
		struct res want, struct res got)
{
	char w[160], g[160];
	bool ok = res_eq(&want, &got);

	pr_checks++;
	if (!ok)
		pr_failures++;
	printf("%-6s %-22s %-20s %-22s %-30s %s\n", type_name(type), nx->label,
	       cmd, res_str(&want, w, sizeof(w)), res_str(&got, g, sizeof(g)),
	       ok ? "ok" : "FAIL");
}

int main(int argc, char **argv)
{
	static const int types[] = {PR_WE,    PR_EA,	PR_WE_RO,
				    PR_EA_RO, PR_WE_AR, PR_EA_AR};
	struct nexus a = {.label = "A (holder)",
			  .name = PR_NAME("matrix-a"),
			  .isid_rnd = 0x00a001,
			  .isid_q = 1};
	struct nexus b = {.label = "B (registrant)",
			  .name = PR_NAME("matrix-b"),
			  .isid_rnd = 0x00b002,
			  .isid_q = 2};
	struct nexus c = {.label = "C (not registered)",
			  .name = PR_NAME("matrix-c"),
			  .isid_rnd = 0x00c003,
			  .isid_q = 3};
	struct nexus *all[3] = {&a, &b, &c};
	uint8_t *data;

	if (argc == 3 && !strcmp(argv[2], "same-name")) {
		/* One initiator port name, three ISIDs: still three I_T
		 * nexuses (SAM-5, RFC 7143 4.4.2). */
		a.name = b.name = c.name = PR_NAME("matrix-one-name");
		printf("one initiator name, three ISIDs\n");
	} else if (argc != 2) {
		fprintf(stderr, "usage: pr_matrix URL [same-name]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	data = malloc(PR_BLOCK);
	if (!data)
		die("out of memory");
	for (int i = 0; i < 3; i++) {
		nx_login(all[i], argv[1]);
		drain_ua(all[i]);
	}
	check_keys(&a, "before any registration", 0, NULL);
	check_resv(&a, "before any reservation", 0, 0);

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		int type = types[t];
		bool ar = type == PR_WE_AR || type == PR_EA_AR;
		char what[160];

		printf("\n== type %d (%s): A registers and reserves, B "
		       "registers\n",
		       type, type_name(type));
		check("A REGISTER", GOOD,
		      pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false));
		check("B REGISTER", GOOD,
		      pr_out(&b, PRO_REGISTER, 0, 0, KEY_B, false));
		snprintf(what, sizeof(what), "A RESERVE type %d (%s)", type,
			 type_name(type));
		check(what, GOOD,
		      pr_out(&a, PRO_RESERVE, type, KEY_A, 0, false));
		/* SPC-5 6.16.3: the key of an all registrants reservation
		 * reads as zero. */
		check_resv(&c, "READ RESERVATION from C", type, ar ? 0 : KEY_A);
		for (int i = 0; i < 3; i++)
			drain_ua(all[i]);

		printf("%-6s %-22s %-20s %-22s %-30s %s\n", "type", "nexus",
		       "command", "expected", "actual", "");
		for (int i = 0; i < 3; i++) {
			struct nexus *x = all[i];
			bool registered = x != &c;
			bool holder = x == &a || (ar && registered);
			bool r = reads_ok(type, registered, holder);
			bool w = writes_ok(type, registered, holder);

			row(type, x, "TEST UNIT READY", GOOD, tur(x));
			row(type, x, "INQUIRY", GOOD, inquiry(x));
			row(type, x, "READ CAPACITY (10)", GOOD,
			    read_capacity10(x));
			row(type, x, "REPORT LUNS", GOOD, report_luns(x));
			row(type, x, "REQUEST SENSE", GOOD, request_sense(x));
			row(type, x, "PR IN READ KEYS", GOOD,
			    read_keys_status(x));
			row(type, x, "READ (10)", r ? GOOD : CONFLICT,
			    read10(x, 8, 1, NULL));
			memset(data, 0x10 * (int)t + i, PR_BLOCK);
			row(type, x, "WRITE (10)", w ? GOOD : CONFLICT,
			    write10(x, 16 + (uint32_t)i, 1, data));
			row(type, x, "READ (16)", r ? GOOD : CONFLICT,
			    read16(x, 8));
			row(type, x, "WRITE (16)", w ? GOOD : CONFLICT,
			    write16(x, 0x8a, 24 + (uint64_t)i, data));
			row(type, x, "WRITE SAME (16)", w ? GOOD : CONFLICT,
			    write16(x, 0x93, 32 + (uint64_t)i, data));
		}

		printf("-- clean-up: A CLEAR\n");
		check("A CLEAR", GOOD,
		      pr_out(&a, PRO_CLEAR, type, KEY_A, 0, false));
		check_ua(&b,
			 "B's next command after A's CLEAR: RESERVATIONS "
			 "PREEMPTED",
			 0x2a, 0x03);
		check("A's next command after its own CLEAR", GOOD, tur(&a));
		check("C's next command after A's CLEAR (C was not "
		      "registered)",
		      GOOD, tur(&c));
		check_keys(&a, "after CLEAR", 0, NULL);
		check_resv(&a, "after CLEAR", 0, 0);
		for (int i = 0; i < 3; i++)
			drain_ua(all[i]);
	}

	for (int i = 0; i < 3; i++)
		nx_logout(all[i]);
	free(data);
	return pr_exit("pr_matrix");
}
