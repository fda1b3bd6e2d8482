/*
 * Target port groups and asymmetric logical unit access (SPC-5 §5.16):
 * which target port group each target port belongs to and the access
 * state of each group, as INQUIRY (TPGS, the target port group designator
 * of VPD page 83h) and REPORT TARGET PORT GROUPS report them (tpg.c).
 *
 * Today every target is one target port group, always active/optimized,
 * with implicit ALUA; the groups are computed here and nowhere else, so
 * that configured groups and states (lunarctl) replace scsi_tpg_list()
 * and scsi_tpg_id() without touching what reports them.
 */
#ifndef LUNAR_SCSI_TPG_H
#define LUNAR_SCSI_TPG_H

#include <stdbool.h>
#include <stdint.h>

struct scsi_cmd;
struct scsi_lu;
struct scsi_nexus;

/* Asymmetric access states (SPC-5 §5.16.2.4, table 38). */
enum scsi_alua_state {
	SCSI_ALUA_ACTIVE_OPTIMIZED = 0x0,
	SCSI_ALUA_ACTIVE_NON_OPTIMIZED = 0x1,
	SCSI_ALUA_STANDBY = 0x2,
	SCSI_ALUA_UNAVAILABLE = 0x3,
	SCSI_ALUA_LBA_DEPENDENT = 0x4,
	SCSI_ALUA_OFFLINE = 0xe,
	SCSI_ALUA_TRANSITIONING = 0xf,
};

/* Byte 1 of a target port group descriptor: the states it supports. */
#define SCSI_ALUA_SUP_T	  0x80 /* transitioning */
#define SCSI_ALUA_SUP_O	  0x40 /* offline */
#define SCSI_ALUA_SUP_LBD 0x10 /* logical block dependent */
#define SCSI_ALUA_SUP_U	  0x08 /* unavailable */
#define SCSI_ALUA_SUP_S	  0x04 /* standby */
#define SCSI_ALUA_SUP_AN  0x02 /* active/non-optimized */
#define SCSI_ALUA_SUP_AO  0x01 /* active/optimized */

/* TPGS of the standard INQUIRY data (byte 5, bits 5-4). */
#define SCSI_TPGS_NONE	   0x00
#define SCSI_TPGS_IMPLICIT 0x10
#define SCSI_TPGS_EXPLICIT 0x20

#define SCSI_TPG_PORTS_MAX 16
#define SCSI_TPG_MAX	   16

/* The group every target port belongs to while none are configured. */
#define SCSI_TPG_DEFAULT_ID 1

struct scsi_tpg_info {
	uint16_t id; /* TARGET PORT GROUP, never 0 */
	enum scsi_alua_state state;
	bool pref;	   /* preferred target port group */
	uint8_t supported; /* SCSI_ALUA_SUP_* */
	uint8_t status;	   /* STATUS CODE: 00h, no status available */
	unsigned nr_ports;
	uint16_t ports[SCSI_TPG_PORTS_MAX]; /* relative target port ids */
};

/* The TPGS bits of lu's standard INQUIRY data. */
uint8_t scsi_tpg_tpgs(const struct scsi_lu *lu);
/* The target port group of the target port n is connected through. */
uint16_t scsi_tpg_id(const struct scsi_nexus *n, const struct scsi_lu *lu);
/* The groups of the target ports through which lu is reachable, as seen
 * from n; at most max. Returns how many there are. */
unsigned scsi_tpg_list(const struct scsi_nexus *n, const struct scsi_lu *lu,
		       struct scsi_tpg_info *out, unsigned max);

/*
 * Whether cmd may run in the access state of the target port group its
 * nexus comes through (SPC-5 §5.16.2.4.x): 0, or a negative errno with
 * the sense set (NOT READY / TARGET PORT IN STANDBY STATE, ...). Called by
 * the core for every command to a LU, from its opcode table row.
 */
int scsi_tpg_check(struct scsi_cmd *cmd);

#endif
