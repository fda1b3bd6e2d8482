/*
 * fuzz_iscsi: coverage-guided fuzzing (libFuzzer) of everything a TCP
 * peer can reach. Each input is the byte stream an initiator sends on one
 * connection: login, text, SCSI commands, Data-Out, task management,
 * NOP-Out, logout, in any order and any shape. The daemon runs in this
 * process as lunard runs it (main reactor, one I/O reactor, SCSI core,
 * management, a config file with the LU matrix of the conformance
 * harness: plain, thin with 4096-byte physical blocks, removable,
 * read-only, null, and one LU of each other device type: a CD (LUN 5),
 * a media changer (LUN 6) and a tape drive (LUN 7), the changer's drives
 * being the CD and the tape; plus a CHAP target). The
 * stream is written into one end of a socketpair handed to the transport as an
 * accepted connection; the responses are read and dropped. After the stream the
 * harness closes its end and waits until the connection and its session are
 * gone: a stream that leaves the daemon stuck for FUZZ_HANG_SECONDS is reported
 * as a hang (abort), as is any sanitizer finding.
 *
 * Built by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined);
 * tests/fuzz/run.sh runs it on the seeds of fuzz_seeds.c.
 * Env: LUNAR_FUZZ_LOG=error|warn|info|debug (default: error),
 * LUNAR_FUZZ_DUMP=FILE (the responses, appended).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "event/reactor.h"
#include "iscsi/conn.h"
#include "iscsi/iscsi.h"
#include "mgmt/mgmt.h"
#include "scsi/mode.h"
#include "scsi/pr.h"
#include "scsi/scsi.h"
#include "scsi/ssc_format.h"
#include "util/log.h"

#define FUZZ_HANG_SECONDS 10
#define FUZZ_QUIET_MS	  1
#define FUZZ_LU_BYTES	  (2u << 20)
/* Small enough that writes reach early warning and the end. */
#define FUZZ_TAPE_BYTES (1u << 20)

static struct reactor *main_reactor;
static pthread_t main_thread;
static char dir[] = "/tmp/lunar-fuzz.XXXXXX";
/* LUNAR_FUZZ_DUMP=FILE: the daemon's responses are appended to FILE (to
 * check what a seed does). */
static FILE *dump;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_iscsi: %s: %s\n", what, why);
	exit(1);
}

static void *main_loop(void *arg)
{
	(void)arg;
	reactor_run(main_reactor);
	return NULL;
}

static void make_file(const char *name, off_t size)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, size) < 0)
		die(path, strerror(errno));
	close(fd);
}

/* An empty tape cartridge (docs/tape-format.md) of FUZZ_TAPE_BYTES. */
static void make_cartridge(const char *name)
{
	char path[256], err[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (ssc_fmt_create(path, FUZZ_TAPE_BYTES, name, true, err,
			   sizeof(err)) < 0)
		die(path, err);
}

/* A library (the changer's state file, smc_state.c): the CD of LUN 5 and
 * the tape drive of LUN 7 are its drives and hold a disc and a cartridge;
 * two more discs and a cartridge in slots, empty slots and an empty mail
 * slot, so that moves have somewhere to go. */
static void write_library(void)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/library.json", dir);
	f = fopen(path, "w");
	if (!f)
		die(path, strerror(errno));
	fprintf(f,
		"{\"format\": \"lunar-changer\", \"version\": 1,\n"
		" \"drives\": [{\"lun\": 5, \"cartridge\": {\"barcode\": "
		"\"CD0001\", \"file\": \"%s/disc.iso\"}, \"source\": 4096},\n"
		"  {\"lun\": 7, \"cartridge\": {\"barcode\": \"TP0001L8\", "
		"\"file\": \"%s/tape1.cart\"}, \"source\": 4100}],\n"
		" \"import_export\": [{\"cartridge\": null}],\n"
		" \"slots\": [{\"cartridge\": null},\n"
		"  {\"cartridge\": {\"barcode\": \"CD0002\", \"file\": "
		"\"%s/disc2.iso\"}},\n"
		"  {\"cartridge\": {\"barcode\": \"CD0003\", \"file\": "
		"\"%s/disc3.iso\"}},\n"
		"  {\"cartridge\": null},\n"
		"  {\"cartridge\": null},\n"
		"  {\"cartridge\": {\"barcode\": \"TP0002L8\", \"file\": "
		"\"%s/tape2.cart\"}}]}\n",
		dir, dir, dir, dir, dir);
	if (fclose(f) != 0)
		die(path, strerror(errno));
}

/* The LU matrix of tests/conformance/run.sh, small enough that SANITIZE,
 * FORMAT UNIT and whole-LU copies finish at once, and the other device
 * types, whose command tables the mutations reach through their LUNs. */
static void write_config(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die(path, strerror(errno));
	fprintf(
	    f,
	    "{\"version\": 1,\n"
	    " \"accounts\": [{\"user\": \"fuzzuser\","
	    " \"password\": \"fuzzsecret12\"}],\n"
	    " \"targets\": [\n"
	    "  {\"name\": \"iqn.2026-01.org.lunar:fuzz\","
	    " \"acls\": [\"ALL\"], \"luns\": [\n"
	    "   {\"lun\": 0, \"backing\": \"%s/plain.img\"},\n"
	    "   {\"lun\": 1, \"backing\": \"%s/thin.img\", \"thin\": true,"
	    " \"physical_block_size\": 4096},\n"
	    "   {\"lun\": 2, \"backing\": \"%s/removable.img\","
	    " \"removable\": true},\n"
	    "   {\"lun\": 3, \"backing\": \"%s/ro.img\", \"readonly\": true},\n"
	    "   {\"lun\": 4, \"backing\": \"%s/null\", \"bstype\": \"null\","
	    " \"size\": 1073741824},\n"
	    "   {\"lun\": 5, \"type\": \"cd\", \"backing\": "
	    "\"%s/disc.iso\"},\n"
	    "   {\"lun\": 6, \"type\": \"changer\", \"backing\": "
	    "\"%s/library.json\"},\n"
	    "   {\"lun\": 7, \"type\": \"tape\", \"backing\": "
	    "\"%s/tape1.cart\"}]},\n"
	    "  {\"name\": \"iqn.2026-01.org.lunar:fuzz-chap\","
	    " \"acls\": [\"ALL\"], \"incoming_users\": [\"fuzzuser\"],"
	    " \"luns\": [{\"lun\": 0, \"backing\": \"%s/chap.img\"}]}\n"
	    " ]}\n",
	    dir, dir, dir, dir, dir, dir, dir, dir, dir);
	if (fclose(f) != 0)
		die(path, strerror(errno));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct iscsi_limits lim;
	char ctl[300], state[300], config[300], err[512];
	const char *lvl = getenv("LUNAR_FUZZ_LOG");
	enum log_level level = LOG_LVL_ERROR;
	int rc;

	(void)argc;
	(void)argv;
	if (lvl && log_parse_level(lvl, &level) < 0)
		die("LUNAR_FUZZ_LOG", "use error, warn, info or debug");
	log_set_level(level);
	if (getenv("LUNAR_FUZZ_DUMP") &&
	    !(dump = fopen(getenv("LUNAR_FUZZ_DUMP"), "ab")))
		die(getenv("LUNAR_FUZZ_DUMP"), strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		die("mkdtemp", strerror(errno));
	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(config, sizeof(config), "%s/lunar.json", dir);
	if (mkdir(state, 0700) < 0)
		die(state, strerror(errno));
	make_file("plain.img", FUZZ_LU_BYTES);
	make_file("thin.img", FUZZ_LU_BYTES);
	make_file("removable.img", FUZZ_LU_BYTES);
	make_file("ro.img", FUZZ_LU_BYTES);
	make_file("disc.iso", FUZZ_LU_BYTES);
	make_file("disc2.iso", FUZZ_LU_BYTES);
	make_file("disc3.iso", FUZZ_LU_BYTES);
	make_cartridge("tape1.cart");
	make_cartridge("tape2.cart");
	write_library();
	make_file("chap.img", FUZZ_LU_BYTES);
	write_config(config);

	rc = reactor_create(&main_reactor, "fuzz-main");
	if (rc < 0)
		die("reactor_create", strerror(-rc));
	struct mgmt_options mo = {
	    .control_path = ctl,
	    .state_dir = state,
	    .config_path = config,
	    .threads = 1,
	};
	if (mgmt_init(main_reactor, &mo, err, sizeof(err)) < 0)
		die("mgmt_init", err);
	if ((rc = scsi_core_init(main_reactor)) < 0 ||
	    (rc = scsi_mode_set_state_dir(state)) < 0 ||
	    (rc = scsi_pr_set_state_dir(state)) < 0 ||
	    (rc = reactor_pool_start(1)) < 0)
		die("SCSI core", strerror(-rc));
	iscsi_limits_default(&lim);
	rc = iscsi_init(main_reactor, &lim);
	if (rc < 0)
		die("iscsi_init", strerror(-rc));
	if (mgmt_config_load(config, err, sizeof(err)) < 0)
		die(config, err);
	if (pthread_create(&main_thread, NULL, main_loop, NULL) != 0)
		die("pthread_create", "failed");
	fprintf(stderr, "fuzz_iscsi: daemon state in %s\n", dir);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_inet(struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void hang(const char *what)
{
	fprintf(stderr,
		"fuzz_iscsi: HANG: %s after %d s; the daemon must end a "
		"connection whose peer closed\n",
		what, FUZZ_HANG_SECONDS);
	abort();
}

/* Sends the stream, half-closes, reads until the daemon closes. */
static void pump(int fd, const uint8_t *data, size_t size)
{
	uint64_t deadline = now_ms() + FUZZ_HANG_SECONDS * 1000;
	static uint8_t sink[65536];
	size_t off = 0;
	bool shut = false, quiet = false;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ms();
		int wait;

		if (now >= deadline)
			hang("the connection is still open");
		wait = (int)(deadline - now);
		/* All sent: half-close once the daemon has been quiet for
		 * FUZZ_QUIET_MS, so that commands that finish later (store
		 * I/O, a tape drive's queue, a changer's move on the main
		 * thread) run to the end instead of being aborted with the
		 * connection. */
		if (!shut && off == size) {
			if (quiet) {
				shutdown(fd, SHUT_WR);
				shut = true;
			} else {
				wait = FUZZ_QUIET_MS;
			}
		}
		if (!shut && off < size)
			p.events |= POLLOUT;
		int np = poll(&p, 1, wait);

		if (np < 0 && errno != EINTR)
			die("poll", strerror(errno));
		quiet = np == 0;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(fd, sink, sizeof(sink));

			if (n == 0 || (n < 0 && errno != EAGAIN))
				return; /* closed (or reset) by the daemon */
			if (n > 0 && dump)
				fwrite(sink, 1, (size_t)n, dump), fflush(dump);
		}
		if (!shut && (p.revents & POLLOUT)) {
			ssize_t n = write(fd, data + off, size - off);

			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				off = size; /* the daemon closed first */
		}
	}
}

static void wait_gone(void)
{
	uint64_t deadline = now_ms() + FUZZ_HANG_SECONDS * 1000;

	for (;;) {
		bool empty;

		pthread_mutex_lock(&iscsi_registry_lock);
		empty = iscsi_registry_empty_locked();
		pthread_mutex_unlock(&iscsi_registry_lock);
		if (empty)
			return;
		if (now_ms() >= deadline)
			hang("the closed connection is still registered");
		usleep(200);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage local, peer;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0)
		die("socketpair", strerror(errno));
	set_inet(&local, 3260);
	set_inet(&peer, 40000);
	iscsi_conn_accepted(sv[0], &local, &peer, "127.0.0.1:3260");
	pump(sv[1], data, size);
	close(sv[1]);
	wait_gone();
	return 0;
}
