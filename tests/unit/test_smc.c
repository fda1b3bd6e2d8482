/*
 * Unit tests of the medium changer (SMC-3, src/scsi/smc.c and
 * smc_state.c) over the SCSI core: element addressing, the state file's
 * round trip and the messages of a corrupt or missing one, READ ELEMENT
 * STATUS byte by byte (pages, VOLTAG, DVCID, starting address, number of
 * elements, truncation), MOVE MEDIUM between slots and mail slots with the
 * state file following and its refusals with their exact sense, mode page
 * 1Dh, the other commands, and the table's CDB usage data.
 */
#include "scsi_harness.h"

#include <sys/stat.h>
#include <unistd.h>

#include "scsi/smc.h"
#include "scsi/ua.h"

extern struct scsi_device_type smc_changer_type;
/* Named so that the linker keeps the cd: the drives. */
extern struct scsi_device_type mmc_cd_type;

#define CHG_LUN	 3
#define CD_LUN	 1
#define CD_SIZE	 (1024 * 1024)
#define DESC	 12
#define DESC_VT	 (12 + 36)
#define DESC_ID	 (12 + 4 + SMC_DVCID_MAX)
#define ASC_ELEM 0x21, 0x01

static char dir[64], state_path[128];

/* The library of most tests: drive LUN 1 (a cd), drive LUN 7 (absent),
 * one mail slot, three slots; A1 in slot 1000h, B2 in slot 1002h. */
static const char *const library =
    "{\"format\": \"lunar-changer\", \"version\": 1,"
    " \"drives\": [{\"lun\": 1, \"cartridge\": null},"
    "              {\"lun\": 7, \"cartridge\": null}],"
    " \"import_export\": [{\"cartridge\": null}],"
    " \"slots\": [{\"cartridge\": {\"barcode\": \"A1\", \"file\": \"/a\"}},"
    "           {\"cartridge\": null},"
    "           {\"cartridge\": {\"barcode\": \"B2\", \"file\": \"/b\"},"
    "            \"source\": 4096}]}";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int add_changer(uint64_t lun, const char *path, char *err, size_t errlen)
{
	struct scsi_lu_params p;

	memset(&p, 0, sizeof(p));
	snprintf(p.dtype, sizeof(p.dtype), "changer");
	snprintf(p.backing, sizeof(p.backing), "%s", path);
	return scsi_lu_create(ht_target, lun, &p, err, errlen);
}

static int smc_setup(void **state)
{
	char err[512];

	if (ht_setup(state))
		return -1;
	if (scsi_device_type_find("changer") != &smc_changer_type ||
	    scsi_device_type_find("cd") != &mmc_cd_type)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/lunar-test-smc.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(state_path, sizeof(state_path), "%s/library.json", dir);
	write_file(state_path, library);
	if (ht_lu_add_type(CD_LUN, CD_SIZE, 0, false, "cd"))
		return -1;
	ht_clear_power_on(&ht_nexus, CD_LUN);
	/* The inventory says drive LUN 1 is empty: its disc goes out. */
	if (add_changer(CHG_LUN, state_path, err, sizeof(err))) {
		print_error("%s\n", err);
		return -1;
	}
	ht_clear_power_on(&ht_nexus, CHG_LUN);
	return 0;
}

static int smc_teardown(void **state)
{
	char cmd[128];

	ht_teardown(state);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#define smc_test(fn)                                                           \
	cmocka_unit_test_setup_teardown(fn, smc_setup, smc_teardown)

static void run_in(struct ht_cmd *hc, const uint8_t *cdb, unsigned len,
		   uint32_t edtl)
{
	ht_exec(hc, &ht_nexus, CHG_LUN, cdb, len, SCSI_DIR_READ, edtl, NULL);
}

static void res_cdb(uint8_t *cdb, uint8_t type, bool voltag, uint16_t start,
		    uint16_t count, bool dvcid, uint32_t alloc)
{
	memset(cdb, 0, 12);
	cdb[0] = 0xb8;
	cdb[1] = (uint8_t)((voltag ? 0x10 : 0) | type);
	put_be16(cdb + 2, start);
	put_be16(cdb + 4, count);
	cdb[6] = dvcid ? 0x01 : 0;
	put_be24(cdb + 7, alloc);
}

static void expect_move(uint16_t src, uint16_t dst, uint8_t key, uint8_t asc,
			uint8_t ascq)
{
	uint8_t cdb[12] = {0xa5};

	put_be16(cdb + 4, src);
	put_be16(cdb + 6, dst);
	if (key)
		ht_expect_sense(&ht_nexus, CHG_LUN, cdb, 12, key, asc, ascq);
	else
		ht_expect_good(&ht_nexus, CHG_LUN, cdb, 12);
}

/* ---- the library model ---- */

static void test_addressing(void **state)
{
	enum smc_etype t;

	assert_int_equal(smc_lib_addr(SMC_ET_MT, 0), 0x0000);
	assert_int_equal(smc_lib_addr(SMC_ET_DT, 0), 0x0001);
	assert_int_equal(smc_lib_addr(SMC_ET_DT, 1), 0x0002);
	assert_int_equal(smc_lib_addr(SMC_ET_IE, 0), 0x0100);
	assert_int_equal(smc_lib_addr(SMC_ET_ST, 2), 0x1002);

	struct smc_lib l;
	char err[256];

	assert_int_equal(smc_lib_load(state_path, &l, err, sizeof(err)), 0);
	assert_non_null(smc_lib_elem(&l, 0x0000, &t));
	assert_int_equal(t, SMC_ET_MT);
	assert_non_null(smc_lib_elem(&l, 0x0002, &t));
	assert_int_equal(t, SMC_ET_DT);
	assert_null(smc_lib_elem(&l, 0x0003, NULL));
	assert_non_null(smc_lib_elem(&l, 0x0100, &t));
	assert_int_equal(t, SMC_ET_IE);
	assert_null(smc_lib_elem(&l, 0x0101, NULL));
	assert_non_null(smc_lib_elem(&l, 0x1002, &t));
	assert_int_equal(t, SMC_ET_ST);
	assert_null(smc_lib_elem(&l, 0x1003, NULL));
	assert_null(smc_lib_elem(&l, 0xffff, NULL));
	uint16_t a = 0;
	assert_ptr_equal(smc_lib_find_barcode(&l, "B2", &a), &l.st[2]);
	assert_int_equal(a, 0x1002);
	assert_null(smc_lib_find_barcode(&l, "C3", NULL));
	smc_lib_free(&l);
}

static void test_state_round_trip(void **state)
{
	struct smc_lib l, m;
	char err[256], path[160];
	json_t *a, *b;

	assert_int_equal(smc_lib_load(state_path, &l, err, sizeof(err)), 0);
	assert_int_equal(l.ndt, 2);
	assert_int_equal(l.nie, 1);
	assert_int_equal(l.nst, 3);
	assert_int_equal(l.dt[1].lun, 7);
	assert_string_equal(l.st[0].cart->file, "/a");
	assert_true(l.st[2].svalid);
	assert_int_equal(l.st[2].src, 0x1000);
	snprintf(path, sizeof(path), "%s/copy.json", dir);
	assert_int_equal(smc_lib_save(path, &l, err, sizeof(err)), 0);
	assert_int_equal(smc_lib_load(path, &m, err, sizeof(err)), 0);
	a = smc_lib_to_json(&l);
	b = smc_lib_to_json(&m);
	assert_true(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	smc_lib_free(&m);
	/* A deep copy is equal and owns its cartridges. */
	assert_int_equal(smc_lib_dup(&m, &l), 0);
	assert_ptr_not_equal(m.st[0].cart, l.st[0].cart);
	a = smc_lib_to_json(&l);
	b = smc_lib_to_json(&m);
	assert_true(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	smc_lib_free(&m);
	smc_lib_free(&l);
}

/* Loading text must fail with both the path and why in the message. */
static void expect_corrupt(const char *text, const char *why)
{
	char path[160], err[512];
	struct smc_lib l;

	snprintf(path, sizeof(path), "%s/bad.json", dir);
	write_file(path, text);
	assert_int_equal(smc_lib_load(path, &l, err, sizeof(err)), -EINVAL);
	if (!strstr(err, path) || !strstr(err, why))
		fail_msg("message '%s' lacks '%s' or '%s'", err, path, why);
}

static void test_state_corrupt(void **state)
{
	char path[160], err[512];
	struct smc_lib l;
	struct stat st;

	expect_corrupt("{\"format\": ", "is not valid JSON");
	expect_corrupt("[]", "is not a changer state");
	expect_corrupt("{\"format\": \"lunar-changer\", \"version\": 9}",
		       "version 9 is not known");
	expect_corrupt("{\"format\": \"lunar-changer\", \"version\": 1,"
		       " \"drives\": [], \"import_export\": [],"
		       " \"slots\": [{\"cartridge\": {\"barcode\": \"A\"}}]}",
		       "slots[0].cartridge must be");
	expect_corrupt("{\"format\": \"lunar-changer\", \"version\": 1,"
		       " \"drives\": [], \"import_export\": [],"
		       " \"slots\": [{\"cartridge\": {\"barcode\": \"A\","
		       " \"file\": \"/x\"}}, {\"cartridge\": {\"barcode\": "
		       "\"A\", \"file\": \"/y\"}}]}",
		       "barcode 'A' is on two cartridges");
	expect_corrupt("{\"format\": \"lunar-changer\", \"version\": 1,"
		       " \"drives\": [{\"lun\": 1}, {\"lun\": 1}],"
		       " \"import_export\": [], \"slots\": []}",
		       "drive LUN 1 is listed twice");
	expect_corrupt("{\"format\": \"lunar-changer\", \"version\": 1,"
		       " \"drives\": [], \"import_export\": [],"
		       " \"slots\": [{\"shelf\": 1}]}",
		       "unknown key 'shelf'");
	/* A missing file is a new library, written at once. */
	snprintf(path, sizeof(path), "%s/new.json", dir);
	assert_int_equal(smc_lib_load(path, &l, err, sizeof(err)), 0);
	assert_int_equal(l.ndt + l.nst, 0);
	assert_int_equal(l.nie, 1);
	assert_int_equal(stat(path, &st), 0);
	smc_lib_free(&l);
	/* A corrupt file refuses the LU, naming it. */
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	write_file(path, "{");
	assert_int_equal(add_changer(5, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_null(ht_lu(5));
}

/* ---- READ ELEMENT STATUS ---- */

static void test_res_all(void **state)
{
	uint8_t cdb[12];
	struct ht_cmd hc;
	const uint8_t *d;
	/* MT 1, DT 2, IE 1, ST 3: 4 pages, 7 elements. */
	const size_t total = 4 * 8 + 7 * DESC_VT;

	res_cdb(cdb, 0, true, 0, 0xffff, false, 4096);
	run_in(&hc, cdb, 12, 4096);
	ht_assert_good(&hc);
	d = hc.c.buf;
	assert_int_equal(hc.c.data_len, 8 + total);
	assert_int_equal(get_be16(d), 0);     /* first address */
	assert_int_equal(get_be16(d + 2), 7); /* elements */
	assert_int_equal(get_be24(d + 5), total);
	/* MT page */
	d += 8;
	assert_int_equal(d[0], SMC_ET_MT);
	assert_int_equal(d[1], 0x80); /* PVOLTAG */
	assert_int_equal(get_be16(d + 2), DESC_VT);
	assert_int_equal(get_be24(d + 5), DESC_VT);
	assert_int_equal(get_be16(d + 8), 0);
	assert_int_equal(d[10], 0); /* empty */
	/* DT page: drive 1 present, drive 2 (LUN 7) absent: EXCEPT 3B/1A */
	d += 8 + DESC_VT;
	assert_int_equal(d[0], SMC_ET_DT);
	assert_int_equal(get_be24(d + 5), 2 * DESC_VT);
	assert_int_equal(get_be16(d + 8), 1);
	assert_int_equal(d[10], 0x08);
	assert_int_equal(d[8 + 6], 0x10 | CD_LUN); /* LU VALID, LUN */
	assert_int_equal(d[8 + DESC_VT + 6], 0x10 | 7);
	assert_int_equal(get_be16(d + 8 + DESC_VT), 2);
	assert_int_equal(d[8 + DESC_VT + 2], 0x08 | 0x04);
	assert_int_equal(d[8 + DESC_VT + 4], 0x3b);
	assert_int_equal(d[8 + DESC_VT + 5], 0x1a);
	/* IE page: INENAB, EXENAB, ACCESS, empty */
	d += 8 + 2 * DESC_VT;
	assert_int_equal(d[0], SMC_ET_IE);
	assert_int_equal(get_be16(d + 8), 0x100);
	assert_int_equal(d[10], 0x38);
	/* ST page: A1 full, no source; 1001h empty; B2 from 1000h */
	d += 8 + DESC_VT;
	assert_int_equal(d[0], SMC_ET_ST);
	assert_int_equal(get_be24(d + 5), 3 * DESC_VT);
	d += 8;
	assert_int_equal(get_be16(d), 0x1000);
	assert_int_equal(d[2], 0x09); /* ACCESS, FULL */
	assert_int_equal(d[9], 0);    /* SVALID 0 */
	assert_memory_equal(d + 12, "A1                              ", 32);
	assert_int_equal(get_be16(d + 12 + 34), 0); /* sequence */
	d += DESC_VT;
	assert_int_equal(d[2], 0x08);
	assert_memory_equal(d + 12, (uint8_t[32]){0}, 32);
	d += DESC_VT;
	assert_int_equal(d[9], 0x80);
	assert_int_equal(get_be16(d + 10), 0x1000);
	assert_memory_equal(d + 12, "B2                              ", 32);
	ht_release(&hc);
}

static void test_res_select(void **state)
{
	uint8_t cdb[12];
	struct ht_cmd hc;
	const uint8_t *d;

	/* Without VOLTAG: 12-byte descriptors, PVOLTAG 0. */
	res_cdb(cdb, SMC_ET_ST, false, 0, 0xffff, false, 4096);
	run_in(&hc, cdb, 12, 4096);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8 + 8 + 3 * DESC);
	assert_int_equal(hc.c.buf[9], 0);
	assert_int_equal(get_be16(hc.c.buf + 10), DESC);
	ht_release(&hc);

	/* From 1001h, at most one element: 1001h alone. */
	res_cdb(cdb, SMC_ET_ALL, false, 0x1001, 1, false, 4096);
	run_in(&hc, cdb, 12, 4096);
	ht_assert_good(&hc);
	d = hc.c.buf;
	assert_int_equal(hc.c.data_len, 8 + 8 + DESC);
	assert_int_equal(get_be16(d), 0x1001);
	assert_int_equal(get_be16(d + 2), 1);
	assert_int_equal(d[8], SMC_ET_ST);
	assert_int_equal(get_be16(d + 16), 0x1001);
	ht_release(&hc);

	/* From 0003h over everything: the I/E page first. */
	res_cdb(cdb, SMC_ET_ALL, false, 3, 2, false, 4096);
	run_in(&hc, cdb, 12, 4096);
	ht_assert_good(&hc);
	d = hc.c.buf;
	assert_int_equal(get_be16(d), 0x100);
	assert_int_equal(get_be16(d + 2), 2);
	assert_int_equal(d[8], SMC_ET_IE);
	assert_int_equal(d[8 + 8 + DESC], SMC_ET_ST);
	ht_release(&hc);

	/* NUMBER OF ELEMENTS 0: the header alone. */
	res_cdb(cdb, SMC_ET_ALL, false, 0, 0, false, 4096);
	run_in(&hc, cdb, 12, 4096);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(get_be16(hc.c.buf + 2), 0);
	ht_release(&hc);

	/* Truncated by the allocation length: the counts tell all. */
	res_cdb(cdb, SMC_ET_ALL, true, 0, 0xffff, false, 20);
	run_in(&hc, cdb, 12, 4096);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 20);
	assert_int_equal(get_be16(hc.c.buf + 2), 7);
	assert_int_equal(get_be24(hc.c.buf + 5), 4 * 8 + 7 * DESC_VT);
	assert_int_equal(hc.c.buf[8], SMC_ET_MT);
	ht_release(&hc);

	/* A bad element type code. */
	res_cdb(cdb, 5, false, 0, 0xffff, false, 4096);
	ht_expect_invalid_field(&ht_nexus, CHG_LUN, cdb, 12, SCSI_DIR_READ,
				4096, 1, 3);
}

static void test_res_dvcid(void **state)
{
	uint8_t cdb[12];
	struct ht_cmd hc;
	const uint8_t *d;
	char want[64];

	res_cdb(cdb, SMC_ET_DT, true, 0, 0xffff, true, 4096);
	run_in(&hc, cdb, 12, 4096);
	ht_assert_good(&hc);
	d = hc.c.buf + 8;
	assert_int_equal(get_be16(d + 2), DESC_VT + 4 + SMC_DVCID_MAX);
	d += 8 + DESC_VT;
	snprintf(want, sizeof(want), "LUNAR   %s", ht_lu(CD_LUN)->serial);
	assert_int_equal(d[0], 0x02); /* ASCII */
	assert_int_equal(d[1], 0x01); /* T10 vendor ID based */
	assert_int_equal(d[3], strlen(want));
	assert_memory_equal(d + 4, want, strlen(want));
	/* The absent drive: no identifier. */
	d += DESC_VT + 4 + SMC_DVCID_MAX;
	assert_int_equal(d[3], 0);
	ht_release(&hc);
	/* DVCID without VOLTAG on the other types changes nothing. */
	res_cdb(cdb, SMC_ET_ST, false, 0, 0xffff, true, 4096);
	run_in(&hc, cdb, 12, 4096);
	assert_int_equal(get_be16(hc.c.buf + 10), DESC);
	ht_release(&hc);
	(void)DESC_ID;
}

/* ---- MOVE MEDIUM ---- */

static void test_move_slots(void **state)
{
	struct smc_lib l;
	char err[256];

	expect_move(0x1000, 0x1001, 0, 0, 0);
	expect_move(0x1001, 0x100, 0, 0, 0);
	/* The state file follows every move. */
	assert_int_equal(smc_lib_load(state_path, &l, err, sizeof(err)), 0);
	assert_null(l.st[0].cart);
	assert_null(l.st[1].cart);
	assert_string_equal(l.ie[0].cart->barcode, "A1");
	assert_true(l.ie[0].svalid);
	assert_int_equal(l.ie[0].src, 0x1001);
	assert_false(l.ie[0].impexp);
	smc_lib_free(&l);

	expect_move(0x1000, 0x1001, SCSI_SK_ILLEGAL_REQUEST, 0x3b, 0x0e);
	expect_move(0x100, 0x1002, SCSI_SK_ILLEGAL_REQUEST, 0x3b, 0x0d);
	expect_move(0x100, 0x1003, SCSI_SK_ILLEGAL_REQUEST, ASC_ELEM);
	expect_move(0x2000, 0x1001, SCSI_SK_ILLEGAL_REQUEST, ASC_ELEM);
	expect_move(0x100, 0x0000, SCSI_SK_ILLEGAL_REQUEST, ASC_ELEM);
	/* The drive LUN 7 is no LU: DATA TRANSFER ELEMENT REMOVED. */
	expect_move(0x100, 0x0002, SCSI_SK_ILLEGAL_REQUEST, 0x3b, 0x1a);
	/* A move onto itself changes nothing. */
	expect_move(0x100, 0x100, 0, 0, 0);
	/* Transport other than 0, INVERT. */
	uint8_t cdb[12] = {0xa5, 0, 0, 1, 0x01, 0x00, 0x10, 0x00};
	ht_expect_sense(&ht_nexus, CHG_LUN, cdb, 12, SCSI_SK_ILLEGAL_REQUEST,
			ASC_ELEM);
	cdb[3] = 0;
	cdb[10] = 1;
	ht_expect_invalid_field(&ht_nexus, CHG_LUN, cdb, 12, SCSI_DIR_NONE, 0,
				10, 0);
}

/*
 * An abort that arrives while the move is with the main thread (here the
 * reactor plays both): the command ends once, TASK ABORTED, and the move
 * happened whole.
 */
static void test_move_aborted(void **state)
{
	uint8_t cdb[12] = {0xa5, 0, 0, 0, 0x10, 0x00, 0x01, 0x00};
	struct ht_cmd hc;

	ht_cmd_init(&hc, &ht_nexus, CHG_LUN, cdb, 12, SCSI_DIR_NONE, 0, NULL);
	ht_start(&hc);
	ht_abort(&hc);
	ht_wait(&hc);
	assert_int_equal(hc.done_calls, 1);
	assert_int_equal(hc.c.status, SAM_STAT_TASK_ABORTED);
	ht_release(&hc);
	assert_null(smc_lu_lib(ht_lu(CHG_LUN))->st[0].cart);
	assert_string_equal(smc_lu_lib(ht_lu(CHG_LUN))->ie[0].cart->barcode,
			    "A1");
}

/* A drive that cannot load the cartridge's file (the test store wants a
 * size): MEDIUM ERROR, and nothing moved. */
static void test_move_load_fails(void **state)
{
	expect_move(0x1000, 0x0001, SCSI_SK_MEDIUM_ERROR, 0x30, 0x00);
	assert_non_null(smc_lu_lib(ht_lu(CHG_LUN))->st[0].cart);
	assert_null(smc_lu_lib(ht_lu(CHG_LUN))->dt[0].cart);
	assert_true(atomic_load(&ht_lu(CD_LUN)->medium_absent));
}

/* ---- the other commands ---- */

static void test_others(void **state)
{
	const uint8_t ies[6] = {0x07};
	uint8_t iesr[10] = {0x37, 0x01, 0x10, 0x02, 0, 0, 0, 1};
	uint8_t pos[10] = {0x2b, 0, 0, 0, 0x01, 0x00};
	uint8_t pam[6] = {0x1e, 0, 0, 0, 1, 0};
	const uint8_t xchg[12] = {0xa6};

	ht_expect_good(&ht_nexus, CHG_LUN, ies, 6);
	ht_expect_good(&ht_nexus, CHG_LUN, iesr, 10);
	iesr[3] = 0x03;
	ht_expect_sense(&ht_nexus, CHG_LUN, iesr, 10, SCSI_SK_ILLEGAL_REQUEST,
			ASC_ELEM);
	ht_expect_good(&ht_nexus, CHG_LUN, pos, 10);
	pos[5] = 0x01;
	ht_expect_sense(&ht_nexus, CHG_LUN, pos, 10, SCSI_SK_ILLEGAL_REQUEST,
			ASC_ELEM);
	/* PREVENT counts on the LU; 10b is not SMC's. */
	ht_expect_good(&ht_nexus, CHG_LUN, pam, 6);
	assert_int_equal(ht_lu(CHG_LUN)->nr_prevent, 1);
	pam[4] = 0;
	ht_expect_good(&ht_nexus, CHG_LUN, pam, 6);
	assert_int_equal(ht_lu(CHG_LUN)->nr_prevent, 0);
	pam[4] = 2;
	ht_expect_invalid_field(&ht_nexus, CHG_LUN, pam, 6, SCSI_DIR_NONE, 0, 4,
				1);
	ht_expect_sense(&ht_nexus, CHG_LUN, xchg, 12, SCSI_SK_ILLEGAL_REQUEST,
			0x20, 0x00);
}

static void test_inquiry_and_mode(void **state)
{
	const uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
	const uint8_t ms[6] = {0x1a, 0x08, 0x1d, 0, 255, 0};
	struct ht_cmd hc;
	const uint8_t *p;

	run_in(&hc, inq, 6, 96);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[0], 0x08);
	assert_memory_equal(hc.c.buf + 16, "VIRTUAL LIBRARY ", 16);
	ht_release(&hc);
	run_in(&hc, ms, 6, 255);
	ht_assert_good(&hc);
	p = hc.c.buf + 4 + hc.c.buf[3];
	assert_int_equal(p[0] & 0x3f, 0x1d);
	assert_int_equal(p[1], 0x12);
	assert_int_equal(get_be16(p + 2), 0);
	assert_int_equal(get_be16(p + 4), 1);
	assert_int_equal(get_be16(p + 6), 0x1000);
	assert_int_equal(get_be16(p + 8), 3);
	assert_int_equal(get_be16(p + 10), 0x100);
	assert_int_equal(get_be16(p + 12), 1);
	assert_int_equal(get_be16(p + 14), 1);
	assert_int_equal(get_be16(p + 16), 2);
	ht_release(&hc);
}

static void test_admin(void **state)
{
	struct scsi_lu *lu = ht_lu(CHG_LUN);
	const uint8_t tur[6] = {0};
	char err[512], file[160];

	snprintf(file, sizeof(file), "%s/c.iso", dir);
	write_file(file, "x");
	assert_int_equal(smc_lu_slots_add(lu, 2, false, err, sizeof(err)), 0);
	assert_int_equal(smc_lu_cart_add(lu, -1, "C3", file, err, sizeof(err)),
			 0);
	assert_int_equal(
	    smc_lu_cart_add(lu, 0x1003, "C3", file, err, sizeof(err)), -EEXIST);
	assert_int_equal(
	    smc_lu_cart_add(lu, 0x1001, "D 4", file, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    smc_lu_cart_add(lu, 0x1001, "D4", "/no/such", err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "/no/such"));
	/* The admin's change is a unit attention for the initiators. */
	ht_expect_sense(&ht_nexus, CHG_LUN, tur, 6, SCSI_SK_UNIT_ATTENTION,
			0x28, 0x00);
	ht_expect_good(&ht_nexus, CHG_LUN, tur, 6);
	/* The mail slot is locked while an initiator prevents removal. */
	uint8_t pam[6] = {0x1e, 0, 0, 0, 1, 0};
	ht_expect_good(&ht_nexus, CHG_LUN, pam, 6);
	assert_int_equal(
	    smc_lu_cart_add(lu, 0x100, "D4", file, err, sizeof(err)), -EBUSY);
	pam[4] = 0;
	ht_expect_good(&ht_nexus, CHG_LUN, pam, 6);
	assert_int_equal(
	    smc_lu_cart_add(lu, 0x100, "D4", file, err, sizeof(err)), 0);
	/* The first empty slot was 1001h. */
	assert_string_equal(smc_lu_lib(lu)->st[1].cart->barcode, "C3");
	assert_int_equal(smc_lu_slots_delete(lu, 4, false, err, sizeof(err)),
			 -EBUSY);
	assert_int_equal(smc_lu_slots_delete(lu, 2, false, err, sizeof(err)),
			 0);
	assert_int_equal(smc_lu_cart_delete(lu, "C3", err, sizeof(err)), 0);
	assert_int_equal(smc_lu_cart_delete(lu, "C3", err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(smc_lu_drive_delete(lu, 1, err, sizeof(err)), -EBUSY);
	assert_int_equal(smc_lu_drive_add(lu, 0, err, sizeof(err)), -EINVAL);
	ht_expect_sense(&ht_nexus, CHG_LUN, tur, 6, SCSI_SK_UNIT_ATTENTION,
			0x28, 0x00);
}

/* ---- the table's CDB usage data ---- */

static void base_cdb(const struct scsi_op *op, uint8_t *cdb)
{
	memset(cdb, 0, SCSI_CDB_MAX);
	cdb[0] = op->opcode;
	if (op->flags & SCSI_OP_SA)
		cdb[1] = (uint8_t)op->service_action;
	switch (op->opcode) {
	case 0x03: /* REQUEST SENSE */
		cdb[4] = 18;
		break;
	case 0x12: /* INQUIRY */
		cdb[4] = 96;
		break;
	case 0x1a: /* MODE SENSE (6) of every page */
		cdb[2] = 0x3f;
		cdb[4] = 255;
		break;
	case 0x5a:
		cdb[2] = 0x3f;
		put_be16(cdb + 7, 1024);
		break;
	case 0xa0: /* REPORT LUNS, MAINTENANCE IN */
	case 0xa3:
		put_be32(cdb + 6, 1024);
		break;
	case 0xb8: /* READ ELEMENT STATUS of everything */
		put_be16(cdb + 4, 0xffff);
		put_be24(cdb + 7, 1024);
		break;
	case 0xa5: /* MOVE MEDIUM 1000h onto itself */
		put_be16(cdb + 4, 0x1000);
		put_be16(cdb + 6, 0x1000);
		break;
	case 0x2b: /* POSITION TO ELEMENT 1000h */
		put_be16(cdb + 4, 0x1000);
		break;
	default:
		break;
	}
}

static void run_row(const struct scsi_op *op, const uint8_t *cdb,
		    struct ht_outcome *o)
{
	struct ht_cmd hc;

	ht_exec(&hc, &ht_nexus, CHG_LUN, cdb, op->cdb_len, op->dir,
		op->dir == SCSI_DIR_WRITE ? 0 : sizeof(o->data), NULL);
	ht_outcome_of(&hc, o);
	ht_release(&hc);
}

static void test_usage_zero_bits_are_ignored(void **state)
{
	for (unsigned i = 0; i < smc_changer_type.nr_ops; i++) {
		const struct scsi_op *op = smc_changer_type.ops[i];
		struct ht_outcome want;
		uint8_t cdb[SCSI_CDB_MAX];

		/* Data-Out rows (MODE SELECT, PR OUT) and the reservations
		 * have their own tests (test_mode, test_pr). */
		if (op->dir == SCSI_DIR_WRITE || op->opcode == 0x5e ||
		    op->opcode == 0x5f || op->opcode == 0x16 ||
		    op->opcode == 0x17 || op->opcode == 0x56 ||
		    op->opcode == 0x57)
			continue;
		base_cdb(op, cdb);
		run_row(op, cdb, &want);
		if (want.status != SAM_STAT_GOOD)
			fail_msg("%s: the base CDB fails (sense %02x/%02x)",
				 op->name, want.sense[12], want.sense[13]);
		ht_check_usage_zero_bits(op, base_cdb, run_row, &want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    smc_test(test_addressing),
	    smc_test(test_state_round_trip),
	    smc_test(test_state_corrupt),
	    smc_test(test_res_all),
	    smc_test(test_res_select),
	    smc_test(test_res_dvcid),
	    smc_test(test_move_slots),
	    smc_test(test_move_aborted),
	    smc_test(test_move_load_fails),
	    smc_test(test_others),
	    smc_test(test_inquiry_and_mode),
	    smc_test(test_admin),
	    smc_test(test_usage_zero_bits_are_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
