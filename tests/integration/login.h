/*
 * itest_login(): one libiscsi session to the LU of an iscsi:// URL, for
 * the integration test programs. With tur, iscsi_full_connect_sync's TEST
 * UNIT READY also consumes the unit attentions a new nexus has pending;
 * without it (a LUN that does not exist, an ejected medium) the session
 * is only logged in. Prints why on stderr and returns NULL on failure.
 */
#ifndef LUNAR_ITEST_LOGIN_H
#define LUNAR_ITEST_LOGIN_H

#include <stdbool.h>
#include <stdio.h>

#include <iscsi/iscsi.h>

static struct iscsi_context *
itest_login(const char *url_s, const char *initiator, int *lun, bool tur)
{
	struct iscsi_context *iscsi = iscsi_create_context(initiator);
	struct iscsi_url *url;
	int rc;

	if (!iscsi) {
		fprintf(stderr, "%s: out of memory\n", initiator);
		return NULL;
	}
	url = iscsi_parse_full_url(iscsi, url_s);
	if (!url) {
		fprintf(stderr, "bad URL %s: %s\n", url_s,
			iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return NULL;
	}
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	if (tur)
		rc = iscsi_full_connect_sync(iscsi, url->portal, url->lun);
	else
		rc = iscsi_connect_sync(iscsi, url->portal) ||
		     iscsi_login_sync(iscsi);
	if (rc) {
		fprintf(stderr, "login to %s as %s failed: %s\n", url_s,
			initiator, iscsi_get_error(iscsi));
		iscsi_destroy_url(url);
		iscsi_destroy_context(iscsi);
		return NULL;
	}
	*lun = url->lun;
	iscsi_destroy_url(url);
	return iscsi;
}

#endif
