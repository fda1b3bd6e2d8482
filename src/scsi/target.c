/*
 * The configuration object model: the target list, CHAP accounts, and per
 * target ACLs, portal references and account bindings, all under one
 * reader/writer lock that only the main thread takes for writing. Also the
 * syntax rules admins meet first: iSCSI names (RFC 7143 §4.2.7, RFC 3721,
 * lowercase normalisation per RFC 3722), portal addresses and CHAP secrets
 * (RFC 7143 §12.1.3). LUs and LUN maps live in lu.c.
 *
 * Targets are refcounted: the list holds one reference, each session one
 * more. Deleting a target marks it deleted and drops the list's reference;
 * the last put frees it. Target ids start at 1 and are never reused while
 * the daemon runs, so a tid seen by an admin never names another target.
 */
#include "scsi/target.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scsi/mode.h"
#include "scsi/pr.h"
#include "scsi/tpg.h"
#include "util/utf8.h"

static pthread_rwlock_t scsi_config_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct list_head scsi_targets = LIST_HEAD_INIT(scsi_targets);
static struct list_head scsi_accounts = LIST_HEAD_INIT(scsi_accounts);
static uint32_t scsi_next_tid = 1;

#define SCSI_SECRET_MIN 12

/* ---- validation ---------------------------------------------------- */

static bool scsi_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* Characters RFC 3722 leaves in a normalised ASCII iSCSI name. */
static bool scsi_name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == ':';
}

static int scsi_iqn_check(const char *s, char *why, size_t whylen)
{
	const char *p = s + 4; /* after "iqn." */
	int month;

	if (!(isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	      isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) &&
	      p[4] == '-' && isdigit((unsigned char)p[5]) &&
	      isdigit((unsigned char)p[6]) && p[7] == '.')) {
		snprintf(
		    why, whylen,
		    "'%s' is not an iqn name: after 'iqn.' comes the date "
		    "YYYY-MM and a dot, e.g. iqn.2026-01.com.example:disk1",
		    s);
		return -EINVAL;
	}
	month = (p[5] - '0') * 10 + (p[6] - '0');
	if (month < 1 || month > 12) {
		snprintf(why, whylen,
			 "'%s' has month %02d in its date; use 01..12, e.g. "
			 "iqn.2026-01.com.example:disk1",
			 s, month);
		return -EINVAL;
	}
	p += 8;
	/* The naming authority: a reversed domain name, labels of letters,
	 * digits and '-', up to ':' or the end. */
	const char *label = p;
	for (;; p++) {
		if (*p == '.' || *p == ':' || *p == '\0') {
			if (p == label) {
				snprintf(why, whylen,
					 "'%s' needs a reversed domain name "
					 "after the date (no empty labels), "
					 "e.g. iqn.2026-01.com.example:disk1",
					 s);
				return -EINVAL;
			}
			if (*p != '.')
				break;
			label = p + 1;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-')) {
			snprintf(
			    why, whylen,
			    "'%s' has '%c' in its domain part; only "
			    "letters, digits, '-' and '.' are allowed there",
			    s, *p);
			return -EINVAL;
		}
	}
	if (*p == ':' && p[1] == '\0') {
		snprintf(
		    why, whylen,
		    "'%s' ends with ':'; put a unique string after it, e.g. "
		    "%sdisk1, or drop the ':'",
		    s, s);
		return -EINVAL;
	}
	return 0;
}

bool scsi_name_accepted(const char *name, size_t len)
{
	if (len < 5 || len > SCSI_NAME_MAX - 1)
		return false;
	if (strncasecmp(name, "iqn.", 4) != 0 &&
	    strncasecmp(name, "eui.", 4) != 0 &&
	    strncasecmp(name, "naa.", 4) != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return utf8_valid(name, len);
}

int scsi_name_check(const char *name, char *norm, size_t normlen, char *why,
		    size_t whylen)
{
	char buf[SCSI_NAME_MAX];
	size_t len = strlen(name);

	if (len == 0) {
		snprintf(why, whylen,
			 "the iSCSI name is empty; use e.g. "
			 "iqn.2026-01.com.example:disk1");
		return -EINVAL;
	}
	if (len > SCSI_NAME_MAX - 1) {
		snprintf(why, whylen,
			 "iSCSI name '%.40s...' is %zu bytes long; RFC 7143 "
			 "allows at most %d",
			 name, len, SCSI_NAME_MAX - 1);
		return -ENAMETOOLONG;
	}
	for (size_t i = 0; i <= len; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	for (size_t i = 0; i < len; i++) {
		if (!scsi_name_char_ok(buf[i])) {
			if ((unsigned char)buf[i] < 0x20 ||
			    (unsigned char)buf[i] >= 0x7f)
				snprintf(why, whylen,
					 "iSCSI name '%s' has a byte 0x%02x; "
					 "only ASCII letters, digits, '-', '.' "
					 "and ':' are allowed",
					 name, (unsigned char)buf[i]);
			else
				snprintf(why, whylen,
					 "iSCSI name '%s' has '%c'; only "
					 "letters, digits, '-', '.' and ':' "
					 "are allowed",
					 name, buf[i]);
			return -EINVAL;
		}
	}
	if (strncmp(buf, "iqn.", 4) == 0) {
		int rc = scsi_iqn_check(buf, why, whylen);
		if (rc)
			return rc;
	} else if (strncmp(buf, "eui.", 4) == 0) {
		if (len != 4 + 16 || !scsi_is_hex(buf + 4, 16)) {
			snprintf(why, whylen,
				 "'%s' is not an eui name: 'eui.' must be "
				 "followed by exactly 16 hex digits, e.g. "
				 "eui.02004567a425678d",
				 name);
			return -EINVAL;
		}
	} else if (strncmp(buf, "naa.", 4) == 0) {
		if ((len != 4 + 16 && len != 4 + 32) ||
		    !scsi_is_hex(buf + 4, len - 4)) {
			snprintf(why, whylen,
				 "'%s' is not a naa name: 'naa.' must be "
				 "followed by 16 or 32 hex digits, e.g. "
				 "naa.52004567ba64678d",
				 name);
			return -EINVAL;
		}
	} else {
		snprintf(
		    why, whylen,
		    "'%s' is not an iSCSI name: it must start with 'iqn.', "
		    "'eui.' or 'naa.', e.g. iqn.2026-01.com.example:disk1",
		    name);
		return -EINVAL;
	}
	if (norm) {
		if (normlen <= len)
			return -ENAMETOOLONG;
		memcpy(norm, buf, len + 1);
	}
	return 0;
}

static int scsi_port_parse(const char *s, const char *addr, unsigned *port,
			   char *why, size_t whylen)
{
	unsigned long v = 0;

	if (*s == '\0') {
		snprintf(why, whylen,
			 "portal '%s' has no port; add one, e.g. "
			 "127.0.0.1:3260",
			 addr);
		return -EINVAL;
	}
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p) || v > 65535) {
			snprintf(
			    why, whylen,
			    "portal '%s' has a bad port '%s'; use a number "
			    "1..65535 (3260 is the iSCSI port)",
			    addr, s);
			return -EINVAL;
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535) {
		snprintf(why, whylen,
			 "portal '%s' has port %lu; use 1..65535 (3260 is the "
			 "iSCSI port)",
			 addr, v);
		return -EINVAL;
	}
	*port = (unsigned)v;
	return 0;
}

int scsi_portal_check(const char *addr, char *norm, size_t normlen, char *why,
		      size_t whylen)
{
	char host[INET6_ADDRSTRLEN + 1];
	char canon[INET6_ADDRSTRLEN];
	unsigned port;
	int rc;

	if (strlen(addr) >= SCSI_PORTAL_MAX) {
		snprintf(why, whylen,
			 "portal '%.40s...' is too long; use ADDR:PORT, e.g. "
			 "192.0.2.1:3260 or [2001:db8::1]:3260",
			 addr);
		return -EINVAL;
	}
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		struct in6_addr a6;
		size_t n;

		if (!end || end[1] != ':') {
			snprintf(why, whylen,
				 "portal '%s': an IPv6 portal is written "
				 "[ADDR]:PORT, e.g. [::1]:3260",
				 addr);
			return -EINVAL;
		}
		n = (size_t)(end - addr - 1);
		if (n >= sizeof(host)) {
			snprintf(why, whylen,
				 "portal '%s' has no valid IPv6 address "
				 "between the brackets",
				 addr);
			return -EINVAL;
		}
		memcpy(host, addr + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1) {
			snprintf(why, whylen,
				 "portal '%s': '%s' is not an IPv6 address "
				 "(host names are not accepted)",
				 addr, host);
			return -EINVAL;
		}
		rc = scsi_port_parse(end + 2, addr, &port, why, whylen);
		if (rc)
			return rc;
		inet_ntop(AF_INET6, &a6, canon, sizeof(canon));
		if (norm && snprintf(norm, normlen, "[%s]:%u", canon, port) >=
				(int)normlen)
			return -ENAMETOOLONG;
		return 0;
	}

	const char *colon = strrchr(addr, ':');
	struct in_addr a4;

	if (!colon) {
		snprintf(why, whylen,
			 "portal '%s' has no port; write ADDR:PORT, e.g. "
			 "%s:3260",
			 addr, addr);
		return -EINVAL;
	}
	if (memchr(addr, ':', (size_t)(colon - addr))) {
		snprintf(why, whylen,
			 "portal '%s': put an IPv6 address in brackets, e.g. "
			 "[::1]:3260",
			 addr);
		return -EINVAL;
	}
	if ((size_t)(colon - addr) >= sizeof(host)) {
		snprintf(why, whylen, "portal '%s' has no valid IPv4 address",
			 addr);
		return -EINVAL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (inet_pton(AF_INET, host, &a4) != 1) {
		snprintf(why, whylen,
			 "portal '%s': '%s' is not an IPv4 address (host names "
			 "are not accepted; use e.g. 0.0.0.0:3260 for all)",
			 addr, host);
		return -EINVAL;
	}
	rc = scsi_port_parse(colon + 1, addr, &port, why, whylen);
	if (rc)
		return rc;
	inet_ntop(AF_INET, &a4, canon, sizeof(canon));
	if (norm &&
	    snprintf(norm, normlen, "%s:%u", canon, port) >= (int)normlen)
		return -ENAMETOOLONG;
	return 0;
}

int scsi_account_check(const char *user, const char *secret, char *why,
		       size_t whylen)
{
	size_t len = strlen(user);

	if (len == 0 || len > SCSI_NAME_MAX - 1) {
		snprintf(why, whylen,
			 "account name must be 1..%d bytes (got %zu)",
			 SCSI_NAME_MAX - 1, len);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];
		if (c <= 0x20 || c >= 0x7f) {
			snprintf(why, whylen,
				 "account name '%s' has a space, control or "
				 "non-ASCII byte (0x%02x); use printable ASCII "
				 "without spaces",
				 user, c);
			return -EINVAL;
		}
	}
	if (!secret)
		return 0;
	len = strlen(secret);
	if (len < SCSI_SECRET_MIN || len > SCSI_SECRET_MAX - 1) {
		snprintf(why, whylen,
			 "the password of account '%s' is %zu bytes; CHAP "
			 "secrets must be %d..%d bytes (RFC 7143 §12.1.3 wants "
			 "at least 96 bits)",
			 user, len, SCSI_SECRET_MIN, SCSI_SECRET_MAX - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)secret[i];
		if (c < 0x20 || c == 0x7f) {
			snprintf(why, whylen,
				 "the password of account '%s' has a control "
				 "character (0x%02x); use printable characters",
				 user, c);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- lock and lookup ----------------------------------------------- */

void scsi_config_rdlock(void)
{
	pthread_rwlock_rdlock(&scsi_config_lock);
}

void scsi_config_wrlock(void)
{
	pthread_rwlock_wrlock(&scsi_config_lock);
}

void scsi_config_unlock(void)
{
	pthread_rwlock_unlock(&scsi_config_lock);
}

struct list_head *scsi_target_list(void)
{
	return &scsi_targets;
}

struct list_head *scsi_account_list(void)
{
	return &scsi_accounts;
}

/* Names are stored normalised (lowercase); comparing without case lets a
 * caller pass the name as an initiator or admin typed it. */
struct scsi_target *scsi_target_find(const char *name)
{
	struct scsi_target *t;

	list_for_each_entry (t, &scsi_targets, link) {
		if (strcasecmp(t->name, name) == 0)
			return t;
	}
	return NULL;
}

struct scsi_account *scsi_account_find(const char *user)
{
	struct scsi_account *a;

	list_for_each_entry (a, &scsi_accounts, link) {
		if (strcmp(a->user, user) == 0)
			return a;
	}
	return NULL;
}

bool scsi_target_allows(const struct scsi_target *t, const char *initiator)
{
	const struct scsi_acl *acl;

	list_for_each_entry (acl, &t->acls, link) {
		if (strcmp(acl->initiator, "ALL") == 0 ||
		    strcasecmp(acl->initiator, initiator) == 0)
			return true;
	}
	return false;
}

/* Splits "ADDR:PORT" / "[ADDR]:PORT" at the port colon. */
static const char *scsi_portal_port(const char *addr)
{
	const char *c = strrchr(addr, ':');
	return c ? c + 1 : "";
}

static bool scsi_portal_is_any(const char *addr)
{
	return strncmp(addr, "0.0.0.0:", 8) == 0 ||
	       strncmp(addr, "[::]:", 5) == 0;
}

bool scsi_target_on_portal(const struct scsi_target *t, const char *addr)
{
	const struct scsi_portal_ref *p;
	char norm[SCSI_PORTAL_MAX];
	char why[8];

	if (list_empty(&t->portals))
		return true;
	if (scsi_portal_check(addr, norm, sizeof(norm), why, sizeof(why)))
		snprintf(norm, sizeof(norm), "%s", addr);
	list_for_each_entry (p, &t->portals, link) {
		if (strcmp(p->addr, norm) == 0)
			return true;
		/* A wildcard portal covers every local address on its port:
		 * 0.0.0.0 the IPv4 ones, [::] all (a dual-stack socket). */
		if (scsi_portal_is_any(p->addr) &&
		    strcmp(scsi_portal_port(p->addr), scsi_portal_port(norm)) ==
			0 &&
		    (p->addr[0] == '[' || norm[0] != '['))
			return true;
	}
	return false;
}

/* ---- targets ------------------------------------------------------- */

void scsi_target_get(struct scsi_target *t)
{
	atomic_fetch_add(&t->refcnt, 1);
}

static void scsi_target_free(struct scsi_target *t)
{
	struct scsi_acl *acl, *acl_n;
	struct scsi_portal_ref *p, *p_n;
	struct scsi_user_ref *u, *u_n;

	list_for_each_entry_safe (acl, acl_n, &t->acls, link)
		free(acl);
	list_for_each_entry_safe (p, p_n, &t->portals, link)
		free(p);
	list_for_each_entry_safe (u, u_n, &t->users_in, link)
		free(u);
	if (t->lun_map)
		scsi_lun_map_put(t->lun_map);
	scsi_alua_exit(t);
	scsi_stats_shards_free(t->stats);
	free(t);
}

void scsi_target_put(struct scsi_target *t)
{
	if (atomic_fetch_sub(&t->refcnt, 1) == 1)
		scsi_target_free(t);
}

int scsi_target_create(const char *name, const char *alias,
		       struct scsi_target **out)
{
	char norm[SCSI_NAME_MAX];
	char why[8];
	struct scsi_target *t;
	int rc;

	rc = scsi_name_check(name, norm, sizeof(norm), why, sizeof(why));
	if (rc)
		return rc;
	if (alias && strlen(alias) >= SCSI_NAME_MAX)
		return -ENAMETOOLONG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	/* An empty map rather than NULL: readers (login, the nexus) always
	 * find one to take a reference on. */
	t->lun_map = calloc(1, sizeof(*t->lun_map));
	if (!t->lun_map) {
		free(t);
		return -ENOMEM;
	}
	atomic_init(&t->lun_map->refcnt, 1);
	t->stats = scsi_stats_shards_new();
	if (!t->stats || scsi_alua_init(t) < 0) {
		scsi_stats_shards_free(t->stats);
		free(t->lun_map);
		free(t);
		return -ENOMEM;
	}
	atomic_init(&t->refcnt, 1);
	atomic_init(&t->lun_gen, 0);
	atomic_init(&t->nr_sessions, 0);
	memcpy(t->name, norm, sizeof(norm));
	snprintf(t->alias, sizeof(t->alias), "%s", alias ? alias : "");
	t->tpgt = 1;
	list_init(&t->link);
	list_init(&t->acls);
	list_init(&t->portals);
	list_init(&t->users_in);

	scsi_config_wrlock();
	if (scsi_target_find(norm)) {
		scsi_config_unlock();
		scsi_alua_exit(t);
		free(t->lun_map);
		free(t);
		return -EEXIST;
	}
	t->tid = scsi_next_tid++;
	list_add_tail(&t->link, &scsi_targets);
	scsi_config_unlock();
	if (out)
		*out = t;
	return 0;
}

static int scsi_target_remove(const char *name, bool force)
{
	struct scsi_target *t;

	scsi_config_wrlock();
	t = scsi_target_find(name);
	if (!t) {
		scsi_config_unlock();
		return -ENOENT;
	}
	if (!force && atomic_load(&t->nr_sessions) > 0) {
		scsi_config_unlock();
		return -EBUSY;
	}
	t->deleted = true;
	list_del(&t->link);
	/* Its LUs' saved mode pages go with it (mode.h). */
	for (unsigned i = 0; t->lun_map && i < t->lun_map->count; i++) {
		scsi_mode_lu_forget(t->lun_map->ent[i].lu);
		scsi_pr_lu_delete(t->lun_map->ent[i].lu);
	}
	scsi_config_unlock();
	scsi_target_put(t);
	return 0;
}

int scsi_target_delete(const char *name)
{
	return scsi_target_remove(name, false);
}

int scsi_target_delete_force(const char *name)
{
	return scsi_target_remove(name, true);
}

/* ---- ACLs ---------------------------------------------------------- */

static int scsi_acl_norm(const char *initiator, char *norm, size_t normlen)
{
	char why[8];

	if (strcasecmp(initiator, "ALL") == 0) {
		snprintf(norm, normlen, "ALL");
		return 0;
	}
	return scsi_name_check(initiator, norm, normlen, why, sizeof(why));
}

static struct scsi_acl *scsi_acl_find(struct scsi_target *t, const char *norm)
{
	struct scsi_acl *acl;

	list_for_each_entry (acl, &t->acls, link) {
		if (strcmp(acl->initiator, norm) == 0)
			return acl;
	}
	return NULL;
}

int scsi_acl_add(struct scsi_target *t, const char *initiator)
{
	char norm[SCSI_NAME_MAX];
	struct scsi_acl *acl;
	int rc;

	rc = scsi_acl_norm(initiator, norm, sizeof(norm));
	if (rc)
		return rc;
	acl = calloc(1, sizeof(*acl));
	if (!acl)
		return -ENOMEM;
	memcpy(acl->initiator, norm, sizeof(norm));
	scsi_config_wrlock();
	if (scsi_acl_find(t, norm)) {
		scsi_config_unlock();
		free(acl);
		return -EEXIST;
	}
	list_add_tail(&acl->link, &t->acls);
	scsi_config_unlock();
	return 0;
}

int scsi_acl_delete(struct scsi_target *t, const char *initiator)
{
	char norm[SCSI_NAME_MAX];
	struct scsi_acl *acl;
	int rc;

	rc = scsi_acl_norm(initiator, norm, sizeof(norm));
	if (rc)
		return rc;
	scsi_config_wrlock();
	acl = scsi_acl_find(t, norm);
	if (acl)
		list_del(&acl->link);
	scsi_config_unlock();
	if (!acl)
		return -ENOENT;
	free(acl);
	return 0;
}

/* ---- portal references --------------------------------------------- */

static struct scsi_portal_ref *scsi_portal_ref_find(struct scsi_target *t,
						    const char *norm)
{
	struct scsi_portal_ref *p;

	list_for_each_entry (p, &t->portals, link) {
		if (strcmp(p->addr, norm) == 0)
			return p;
	}
	return NULL;
}

int scsi_portal_ref_add(struct scsi_target *t, const char *addr)
{
	char norm[SCSI_PORTAL_MAX];
	char why[8];
	struct scsi_portal_ref *p;
	int rc;

	rc = scsi_portal_check(addr, norm, sizeof(norm), why, sizeof(why));
	if (rc)
		return rc;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(p->addr, norm, sizeof(norm));
	scsi_config_wrlock();
	if (scsi_portal_ref_find(t, norm)) {
		scsi_config_unlock();
		free(p);
		return -EEXIST;
	}
	list_add_tail(&p->link, &t->portals);
	scsi_config_unlock();
	return 0;
}

int scsi_portal_ref_delete(struct scsi_target *t, const char *addr)
{
	char norm[SCSI_PORTAL_MAX];
	char why[8];
	struct scsi_portal_ref *p;
	int rc;

	rc = scsi_portal_check(addr, norm, sizeof(norm), why, sizeof(why));
	if (rc)
		return rc;
	scsi_config_wrlock();
	p = scsi_portal_ref_find(t, norm);
	if (p)
		list_del(&p->link);
	scsi_config_unlock();
	if (!p)
		return -ENOENT;
	free(p);
	return 0;
}

/* ---- accounts and bindings ----------------------------------------- */

static bool scsi_account_bound(const char *user)
{
	struct scsi_target *t;
	struct scsi_user_ref *u;

	list_for_each_entry (t, &scsi_targets, link) {
		if (strcmp(t->user_out, user) == 0)
			return true;
		list_for_each_entry (u, &t->users_in, link) {
			if (strcmp(u->user, user) == 0)
				return true;
		}
	}
	return false;
}

int scsi_account_create(const char *user, const char *secret)
{
	struct scsi_account *a;
	char why[8];
	int rc;

	rc = scsi_account_check(user, secret, why, sizeof(why));
	if (rc)
		return rc;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	snprintf(a->user, sizeof(a->user), "%s", user);
	snprintf(a->secret, sizeof(a->secret), "%s", secret);
	scsi_config_wrlock();
	if (scsi_account_find(user)) {
		scsi_config_unlock();
		free(a);
		return -EEXIST;
	}
	list_add_tail(&a->link, &scsi_accounts);
	scsi_config_unlock();
	return 0;
}

int scsi_account_delete(const char *user)
{
	struct scsi_account *a;

	scsi_config_wrlock();
	a = scsi_account_find(user);
	if (!a) {
		scsi_config_unlock();
		return -ENOENT;
	}
	if (scsi_account_bound(user)) {
		scsi_config_unlock();
		return -EBUSY;
	}
	list_del(&a->link);
	scsi_config_unlock();
	explicit_bzero(a->secret, sizeof(a->secret));
	free(a);
	return 0;
}

static struct scsi_user_ref *scsi_user_ref_find(struct scsi_target *t,
						const char *user)
{
	struct scsi_user_ref *u;

	list_for_each_entry (u, &t->users_in, link) {
		if (strcmp(u->user, user) == 0)
			return u;
	}
	return NULL;
}

int scsi_account_bind(struct scsi_target *t, const char *user, bool out)
{
	struct scsi_user_ref *u = NULL;
	int rc = 0;

	if (!out) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return -ENOMEM;
		snprintf(u->user, sizeof(u->user), "%s", user);
	}
	scsi_config_wrlock();
	if (!scsi_account_find(user))
		rc = -ENOENT;
	else if (out && t->user_out[0])
		rc = -EEXIST;
	else if (!out && scsi_user_ref_find(t, user))
		rc = -EEXIST;
	else if (out)
		snprintf(t->user_out, sizeof(t->user_out), "%s", user);
	else
		list_add_tail(&u->link, &t->users_in);
	scsi_config_unlock();
	if (rc || out)
		free(u);
	return rc;
}

int scsi_account_unbind(struct scsi_target *t, const char *user, bool out)
{
	struct scsi_user_ref *u = NULL;
	int rc = 0;

	scsi_config_wrlock();
	if (out) {
		if (strcmp(t->user_out, user) == 0)
			t->user_out[0] = '\0';
		else
			rc = -ENOENT;
	} else {
		u = scsi_user_ref_find(t, user);
		if (u)
			list_del(&u->link);
		else
			rc = -ENOENT;
	}
	scsi_config_unlock();
	free(u);
	return rc;
}
