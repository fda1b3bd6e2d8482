/*
 * Reservations (pr.h). Placeholder while persistent reservations are
 * written: no reservation is ever held, so nothing conflicts.
 */
#include "scsi/pr.h"

#include "scsi/scsi.h"

int scsi_pr_check(struct scsi_cmd *cmd)
{
	(void)cmd;
	return 0;
}

int scsi_pr_lu_init(struct scsi_lu *lu)
{
	(void)lu;
	return 0;
}

void scsi_pr_lu_exit(struct scsi_lu *lu)
{
	(void)lu;
}

void scsi_pr_lu_delete(struct scsi_lu *lu)
{
	(void)lu;
}

void scsi_pr_nexus_lost(struct scsi_lu *lu, const struct scsi_nexus *n)
{
	(void)lu;
	(void)n;
}

void scsi_pr_lu_reset(struct scsi_lu *lu)
{
	(void)lu;
}

int scsi_pr_set_state_dir(const char *dir)
{
	(void)dir;
	return 0;
}
