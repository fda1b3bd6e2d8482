/*
 * The CD/DVD-ROM drive (MMC-6, mmc.c) as the rest of lunar sees it: its
 * medium can be taken out and put back at run time, as START STOP UNIT
 * does, for the management of a LU (lun eject / lun load) to reuse.
 */
#ifndef LUNAR_SCSI_MMC_H
#define LUNAR_SCSI_MMC_H

#include <stdbool.h>
#include <stdint.h>

struct scsi_lu;
struct scsi_nexus;

/* Profiles (MMC-6 profile list) of the medium a LU holds. */
#define MMC_PROFILE_NONE    0x0000
#define MMC_PROFILE_CD_ROM  0x0008
#define MMC_PROFILE_DVD_ROM 0x0010

/* Largest image reported as a CD (80 minutes of 2048-byte sectors);
 * anything larger is a DVD-ROM. */
#define MMC_CD_MAX_BYTES 737280000ull

/* The current profile of lu's medium; MMC_PROFILE_NONE when it is out. */
uint16_t mmc_lu_profile(const struct scsi_lu *lu);
/*
 * Takes the medium out (the tray opens): MEDIA REMOVAL for GET EVENT
 * STATUS NOTIFICATION. Returns 0, or -EBUSY while an I_T nexus prevents
 * removal (unless force): an EJECT REQUEST event then tells the nexuses
 * someone wants it out.
 */
int mmc_lu_eject(struct scsi_lu *lu, bool force);
/* Puts the medium back (the same image): NEW MEDIA, and NOT READY TO
 * READY CHANGE, MEDIUM MAY HAVE CHANGED for every nexus but by (NULL:
 * every nexus). */
void mmc_lu_load(struct scsi_lu *lu, const struct scsi_nexus *by);

#endif
