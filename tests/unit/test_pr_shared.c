/*
 * Unit tests of the shared reservations record (pr_shared.c) as text:
 * what one gateway writes another reads back the same (registrations, the
 * reservation, PRGENERATION, the SPC-2 holder, the ALUA owner, the
 * changes with their marks), and what is not a record, or a damaged one,
 * is refused with the member named, never taken half. A bounded mutation
 * loop (fixed seed) feeds damaged records to the parser: it must refuse
 * or accept them cleanly (ASan and UBSan under make check SANITIZE=1).
 * pr_shared.c is included directly (DESIGN.md §9).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scsi/pr_shared.c"

#define MUTATIONS 20000

static const char *const good_record =
    "{\"format\": \"lunar-pr-shared\", \"version\": 1, \"prgeneration\": 7,"
    " \"aptpl\": true,"
    " \"registrations\": ["
    "  {\"key\": \"0x00000000000000a1\","
    "   \"transport_id\": \"iqn.2026-12.org.example:a,i,0x230000000001\","
    "   \"relative_target_port\": 1, \"all_tg_pt\": false},"
    "  {\"key\": \"0x00000000000000b2\","
    "   \"transport_id\": \"iqn.2026-12.org.example:b\","
    "   \"relative_target_port\": 0, \"all_tg_pt\": true}],"
    " \"reservation\": {\"type\": 5, \"scope\": 0, \"holder\": 0},"
    " \"spc2\": null,"
    " \"alua\": {\"group\": 2, \"owner\": \"127.0.0.1:0/12345\"},"
    " \"events\": [{\"seq\": 3, \"sender\": {\"port\": "
    "\"iqn.2026-12.org.example:a,i,0x230000000001\", "
    "\"relative_target_port\": 1},"
    "   \"marks\": [{\"transport_id\": \"iqn.2026-12.org.example:b\","
    "   \"relative_target_port\": 0, \"all_tg_pt\": true, \"asc\": 42,"
    "   \"ascq\": 5, \"abort\": true}]}]}";

static void check_good(const struct pr_shared_rec *rec)
{
	const struct pr_reg *first =
	    container_of(rec->set.regs.next, struct pr_reg, link);

	assert_int_equal(rec->set.nr_regs, 2);
	assert_int_equal(rec->set.generation, 7);
	assert_true(rec->set.aptpl);
	assert_true(rec->set.reserved);
	assert_int_equal(rec->set.type, 5);
	assert_ptr_equal(rec->set.holder, first);
	assert_int_equal(first->key, 0xa1);
	assert_false(rec->x.held);
	assert_int_equal(rec->x.alua_group, 2);
	assert_string_equal(rec->x.alua_owner, "127.0.0.1:0/12345");
	assert_int_equal(rec->nr_events, 1);
	assert_int_equal(rec->ev[0].seq, 3);
	assert_true(rec->ev[0].has_sender);
	assert_int_equal(rec->ev[0].sender_rel, 1);
	assert_int_equal(rec->ev[0].nr_marks, 1);
	assert_int_equal(rec->ev[0].marks[0].ua_asc, 42);
	assert_int_equal(rec->ev[0].marks[0].ua_ascq, 5);
	assert_true(rec->ev[0].marks[0].abort);
	assert_true(rec->ev[0].marks[0].all_tg_pt);
}

static void test_record_round_trip(void **state)
{
	struct pr_shared_rec rec, again;
	char what[384];
	char *text;

	assert_int_equal(
	    pr_shared_rec_from_text(good_record, &rec, what, sizeof(what)), 0);
	check_good(&rec);
	text = pr_shared_rec_text(&rec);
	assert_non_null(text);
	assert_int_equal(
	    pr_shared_rec_from_text(text, &again, what, sizeof(what)), 0);
	check_good(&again);
	free(text);
	pr_shared_rec_clear(&rec);
	pr_shared_rec_clear(&again);
}

static void test_record_spc2_and_empty(void **state)
{
	const char *spc2 =
	    "{\"format\": \"lunar-pr-shared\", \"version\": 1, "
	    "\"prgeneration\": 0, \"aptpl\": false, \"registrations\": [], "
	    "\"reservation\": null, \"spc2\": {\"port\": "
	    "\"iqn.2026-12.org.example:c,i,0x230000000003\", "
	    "\"relative_target_port\": 2}, \"alua\": null, \"events\": []}";
	struct pr_shared_rec rec;
	char what[384];

	assert_int_equal(
	    pr_shared_rec_from_text(spc2, &rec, what, sizeof(what)), 0);
	assert_true(rec.x.held);
	assert_int_equal(rec.x.rel_port, 2);
	assert_int_equal(rec.x.alua_group, 0);
	assert_int_equal(rec.set.nr_regs, 0);
	assert_int_equal(rec.nr_events, 0);
	pr_shared_rec_clear(&rec);
}

/* good_record with one substring replaced; must be refused, naming what. */
static void refuse(const char *from, const char *to, const char *named)
{
	const char *at = strstr(good_record, from);
	struct pr_shared_rec rec;
	char text[4096], what[384] = "";

	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good_record),
		 good_record, to, at + strlen(from));
	assert_int_equal(
	    pr_shared_rec_from_text(text, &rec, what, sizeof(what)), -EBADMSG);
	if (!strstr(what, named))
		fail_msg("refusing '%s' -> '%s': expected '%s' in '%s'", from,
			 to, named, what);
	assert_int_equal(rec.set.nr_regs, 0); /* nothing taken half */
	assert_int_equal(rec.nr_events, 0);
}

static void test_record_refused(void **state)
{
	refuse("lunar-pr-shared", "lunar-pr",
	       "not a lunar reservations record");
	refuse("\"version\": 1", "\"version\": 2", "version 1");
	refuse("\"prgeneration\": 7", "\"prgeneration\": -1", "prgeneration");
	refuse("\"spc2\": null", "\"spc2\": 5", "spc2");
	refuse("\"group\": 2", "\"group\": 0", "alua");
	refuse("\"owner\": \"127.0.0.1:0/12345\"", "\"owner\": 3", "alua");
	refuse("\"events\": [", "\"events\": 7, \"x\": [", "events");
	refuse("\"seq\": 3", "\"seq\": 0", "events");
	refuse("\"asc\": 42", "\"asc\": 256", "marks");
	refuse("[{\"transport_id\": \"iqn.2026-12.org.example:b\"",
	       "[{\"transport_id\": \"nonsense\"", "marks");
	refuse("\"holder\": 0", "\"holder\": 9", "holder");
	refuse("\"aptpl\": true", "\"aptpl\": 1", "aptpl");
	refuse("{\"format\"", "[{\"format\"", "expected");
}

static void test_record_not_json(void **state)
{
	struct pr_shared_rec rec;
	char what[384] = "";

	assert_int_equal(
	    pr_shared_rec_from_text("{\"format\": ", &rec, what, sizeof(what)),
	    -EBADMSG);
	assert_non_null(strstr(what, "line 1"));
	assert_int_equal(pr_shared_rec_from_text("", &rec, what, sizeof(what)),
			 -EBADMSG);
}

/* xorshift64: the same damaged records on every run. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_record_mutations(void **state)
{
	size_t len = strlen(good_record);
	char *text = malloc(len + 64);
	uint64_t seed = 0x1d2c3b4a59687766ull;
	unsigned accepted = 0;

	assert_non_null(text);
	for (unsigned i = 0; i < MUTATIONS; i++) {
		struct pr_shared_rec rec;
		char what[384];
		size_t n = len;

		memcpy(text, good_record, len + 1);
		for (unsigned k = 1 + rnd(&seed) % 4; k; k--) {
			size_t at = rnd(&seed) % n;

			switch (rnd(&seed) % 4) {
			case 0: /* flip a byte */
				text[at] = (char)(rnd(&seed) & 0xff);
				break;
			case 1: /* cut the text short */
				n = at;
				text[n] = '\0';
				break;
			case 2: /* a digit for a digit: other numbers */
				if (text[at] >= '0' && text[at] <= '9')
					text[at] =
					    (char)('0' + rnd(&seed) % 10);
				break;
			default: /* drop a byte */
				memmove(text + at, text + at + 1, n - at);
				n--;
				break;
			}
			if (!n)
				break;
		}
		text[n] = '\0';
		if (pr_shared_rec_from_text(text, &rec, what, sizeof(what)) ==
		    0) {
			char *again = pr_shared_rec_text(&rec);

			/* What is accepted writes back as a record. */
			assert_non_null(again);
			free(again);
			pr_shared_rec_clear(&rec);
			accepted++;
		}
	}
	free(text);
	/* Some survive (a digit for a digit), most are refused. */
	assert_true(accepted > 0 && accepted < MUTATIONS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_round_trip),
	    cmocka_unit_test(test_record_spc2_and_empty),
	    cmocka_unit_test(test_record_refused),
	    cmocka_unit_test(test_record_not_json),
	    cmocka_unit_test(test_record_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
