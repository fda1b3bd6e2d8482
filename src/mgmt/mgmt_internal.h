/*
 * What the management files share among themselves: the configuration as
 * plain data (struct mgmt_config, the in-memory form of the config file),
 * its conversions, and the request dispatcher the control socket calls.
 * Main thread only.
 */
#ifndef LUNAR_MGMT_INTERNAL_H
#define LUNAR_MGMT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mgmt/mgmt.h"
#include "scsi/target.h"

#ifndef LUNAR_VERSION
#define LUNAR_VERSION "0.1.0"
#endif

#define MGMT_DEFAULT_CONTROL   "/run/lunar/lunard.sock"
#define MGMT_DEFAULT_STATE_DIR "/var/lib/lunar"
#define MGMT_CONFIG_VERSION    1
/* Longest request line the control socket accepts. */
#define MGMT_LINE_MAX (1024 * 1024)

struct scsi_tpg_conf;

struct mgmt_cfg_lun {
	uint64_t lun;
	struct scsi_lu_params p; /* as configured: what the file holds */
	/* Snapshots only: what the LU is (size in bytes, unit serial). */
	uint64_t cur_size;
	char cur_serial[33];
};

struct mgmt_cfg_target {
	char name[SCSI_NAME_MAX];
	char alias[SCSI_NAME_MAX];
	uint32_t tid; /* snapshots only; 0 in a parsed file */
	char (*acls)[SCSI_NAME_MAX];
	size_t nr_acls;
	char (*portals)[SCSI_PORTAL_MAX];
	size_t nr_portals;
	char (*users_in)[SCSI_NAME_MAX];
	size_t nr_users_in;
	char user_out[SCSI_NAME_MAX];
	struct mgmt_cfg_lun *luns;
	size_t nr_luns;
	struct scsi_tpg_conf *tpgs; /* port groups (alua.c) */
	size_t nr_tpgs;
};

struct mgmt_cfg_account {
	char user[SCSI_NAME_MAX];
	char secret[SCSI_SECRET_MAX];
};

struct mgmt_config {
	struct mgmt_cfg_account *accounts;
	size_t nr_accounts;
	struct mgmt_cfg_target *targets;
	size_t nr_targets;
};

/* config.c */
/* Checks every field (types, syntax, duplicates); src names the source in
 * messages ("config /etc/lunar.json: targets[0].luns[1].size: ..."). */
int mgmt_config_from_json(json_t *root, const char *src,
			  struct mgmt_config **out, char *err, size_t errlen);
int mgmt_config_parse_file(const char *path, struct mgmt_config **out,
			   char *err, size_t errlen);
/* MGMT_CFG_SECRETS: include account passwords (the file does; displays do
 * not). MGMT_CFG_LIVE: a LUN's size and serial as the LU has them, for
 * displays; the file keeps the configured ones (size 0 = the file's size,
 * serial "" = derived), so a restart recreates the same LU identity. */
#define MGMT_CFG_SECRETS (1u << 0)
#define MGMT_CFG_LIVE	 (1u << 1)
json_t *mgmt_config_to_json(const struct mgmt_config *c, unsigned flags);
json_t *mgmt_cfg_target_to_json(const struct mgmt_cfg_target *t,
				unsigned flags);
json_t *mgmt_cfg_lun_to_json(const struct mgmt_cfg_lun *l, unsigned flags);
/* A copy of the running configuration (takes the read lock). */
int mgmt_config_snapshot(struct mgmt_config **out);
/* Creates what c holds and the running configuration lacks. */
int mgmt_config_apply(const struct mgmt_config *c, const char *src, char *err,
		      size_t errlen);
/* Atomic: temp file in the same directory, fsync, rename, fsync dir. */
int mgmt_config_write_file(const char *path, json_t *root, char *err,
			   size_t errlen);
int mgmt_config_save(const char *path, char *err, size_t errlen);
void mgmt_config_free(struct mgmt_config *c);

/* handlers.c */
/* Runs one request line; returns the response object (never NULL). */
json_t *mgmt_handle_request(const char *line, size_t len);
/* Tells the mgmt_on_change listener that the configuration may have
 * changed. */
void mgmt_changed(void);
/* Listens on addr and records it on t; undoes the listen on failure. */
int mgmt_portal_add(struct scsi_target *t, const char *addr, char *err,
		    size_t errlen);

/* changer.c: the changer.* commands (a medium changer's inventory). */
int mgmt_changer_show_cmd(json_t *req, json_t **res, char *err, size_t errlen);
int mgmt_changer_slot_add_cmd(json_t *req, json_t **res, char *err,
			      size_t errlen);
int mgmt_changer_slot_delete_cmd(json_t *req, json_t **res, char *err,
				 size_t errlen);
int mgmt_changer_cartridge_add_cmd(json_t *req, json_t **res, char *err,
				   size_t errlen);
int mgmt_changer_cartridge_delete_cmd(json_t *req, json_t **res, char *err,
				      size_t errlen);
int mgmt_changer_drive_add_cmd(json_t *req, json_t **res, char *err,
			       size_t errlen);
int mgmt_changer_drive_delete_cmd(json_t *req, json_t **res, char *err,
				  size_t errlen);

/* alua.c: the tpg.* commands and a target's "port_groups". */
int mgmt_tpg_create_cmd(json_t *req, json_t **res, char *err, size_t errlen);
int mgmt_tpg_delete_cmd(json_t *req, json_t **res, char *err, size_t errlen);
int mgmt_tpg_set_cmd(json_t *req, json_t **res, char *err, size_t errlen);
int mgmt_tpg_add_portal_cmd(json_t *req, json_t **res, char *err,
			    size_t errlen);
int mgmt_tpg_remove_portal_cmd(json_t *req, json_t **res, char *err,
			       size_t errlen);
int mgmt_tpg_list_cmd(json_t *req, json_t **res, char *err, size_t errlen);
/* Parses target["port_groups"] (path names the target in messages). */
int mgmt_cfg_tpgs_from_json(json_t *target, const char *src, const char *path,
			    struct mgmt_cfg_target *t, char *err,
			    size_t errlen);
/* Adds "port_groups" to obj when t has any. */
void mgmt_cfg_tpgs_to_json(const struct mgmt_cfg_target *t, unsigned flags,
			   json_t *obj);
/* Copies st's groups into t; caller holds the config read lock. */
int mgmt_cfg_tpgs_snapshot(const struct scsi_target *st,
			   struct mgmt_cfg_target *t);
/* Creates group c on t unless it exists; msg says why it could not. */
int mgmt_cfg_tpg_apply(struct scsi_target *t, const struct scsi_tpg_conf *c,
		       char *msg, size_t msglen);

/* ctl.c */
/* The daemon's options (defaults before mgmt_init). */
const struct mgmt_options *mgmt_get_options(void);
/* Where config.save writes without a file: --config, else
 * STATE_DIR/lunar.json. */
void mgmt_default_config_path(char *out, size_t outlen);

/* "an object", "a string", ...: for messages about a JSON value. */
const char *mgmt_json_type_name(const json_t *v);

/* stats.c: statistics (stats.show, the metrics endpoint); any thread.
 * target NULL: every target; has_lun: only that LUN of target. */
struct scsi_stats_snap;
json_t *mgmt_stats_snap_json(const struct scsi_stats_snap *s);
int mgmt_stats_collect(const char *target, bool has_lun, uint64_t lun,
		       json_t **out, char *err, size_t errlen);

/* metrics.c: the Prometheus text format (0.0.4) of mgmt_stats_collect's
 * JSON; *out is malloc'd. */
int mgmt_metrics_format(json_t *stats, char **out, size_t *len);

#endif
