/*
 * The medium changer (SMC-3, smc.c) as the rest of lunar sees it: its
 * library model (smc_state.c: elements, cartridges, the JSON state file)
 * and what the management of a changer LU (lunarctl changer ...) calls,
 * on the main thread (smc_admin.c).
 *
 * Element addresses are fixed by element type and index, so that adding
 * a drive never moves a slot: the medium transport element (the robot) is
 * 0000h, data transfer elements (drives) 0001h..00FFh, import/export
 * elements (mail slots) 0100h..0FFFh, storage elements (slots) from
 * 1000h. Slots and mail slots are added and deleted at the end only.
 */
#ifndef LUNAR_SCSI_SMC_H
#define LUNAR_SCSI_SMC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct scsi_lu;

/* Element type codes (SMC-3 READ ELEMENT STATUS). */
enum smc_etype {
	SMC_ET_ALL = 0,
	SMC_ET_MT = 1, /* medium transport */
	SMC_ET_ST = 2, /* storage */
	SMC_ET_IE = 3, /* import/export */
	SMC_ET_DT = 4, /* data transfer */
};

#define SMC_ADDR_MT 0x0000u
#define SMC_ADDR_DT 0x0001u
#define SMC_ADDR_IE 0x0100u
#define SMC_ADDR_ST 0x1000u
#define SMC_MAX_DT  (SMC_ADDR_IE - SMC_ADDR_DT)
#define SMC_MAX_IE  (SMC_ADDR_ST - SMC_ADDR_IE)
#define SMC_MAX_ST  4096u

#define SMC_BARCODE_MAX 32 /* PRIMARY VOLUME TAG identification */
#define SMC_DVCID_MAX	48 /* "LUNAR   " + a unit serial number */

struct smc_cart {
	char barcode[SMC_BARCODE_MAX + 1];
	char *file;
};

struct smc_elem {
	struct smc_cart *cart; /* NULL: empty */
	uint16_t src;	       /* SOURCE STORAGE ELEMENT ADDRESS */
	bool svalid;
	bool impexp;  /* I/E: placed by the operator (1) or the robot (0) */
	uint64_t lun; /* data transfer: the drive's LUN in the target */
	/* data transfer: the drive's T10 vendor ID based designator, as
	 * its VPD page 83h reports it (empty until the drive LU exists). */
	char dvcid[SMC_DVCID_MAX + 1];
};

struct smc_lib {
	struct smc_elem mt;
	struct smc_elem *dt, *ie, *st;
	unsigned ndt, nie, nst;
};

/* ---- the library model (smc_state.c) ---- */

void smc_lib_free(struct smc_lib *lib);
/* A deep copy; 0 or -ENOMEM. */
int smc_lib_dup(struct smc_lib *dst, const struct smc_lib *src);
/* The element at addr and its type; NULL if there is none. */
struct smc_elem *smc_lib_elem(const struct smc_lib *lib, uint16_t addr,
			      enum smc_etype *type);
uint16_t smc_lib_addr(enum smc_etype type, unsigned index);
/* The element holding the cartridge of that barcode, NULL if none. */
struct smc_elem *smc_lib_find_barcode(const struct smc_lib *lib,
				      const char *barcode, uint16_t *addr);
/* The state as saved (and as lunarctl changer show prints it). */
json_t *smc_lib_to_json(const struct smc_lib *lib);
/* Parses a state; 0, or -EINVAL with the problem in err. */
int smc_lib_from_json(json_t *root, struct smc_lib *lib, char *err,
		      size_t errlen);
/*
 * Reads the state file at path (a missing file is a new, empty library:
 * no slot, no drive, one import/export element; it is written at once).
 * 0, or a negative errno with a message naming the file and the problem.
 */
int smc_lib_load(const char *path, struct smc_lib *lib, char *err,
		 size_t errlen);
/* Writes it atomically (temp file, fsync, rename, fsync of the folder). */
int smc_lib_save(const char *path, const struct smc_lib *lib, char *err,
		 size_t errlen);

/* ---- management of a changer LU (smc_admin.c; main thread) ---- */

bool smc_lu_is_changer(const struct scsi_lu *lu);
/* The inventory as it is now (main thread, the only one that changes it). */
const struct smc_lib *smc_lu_lib(const struct scsi_lu *lu);
/* The inventory, each element with its address. */
int smc_lu_show(struct scsi_lu *lu, json_t **out, char *err, size_t errlen);
/* Adds / deletes (the last, empty) storage or import/export elements. */
int smc_lu_slots_add(struct scsi_lu *lu, unsigned count, bool ie, char *err,
		     size_t errlen);
int smc_lu_slots_delete(struct scsi_lu *lu, unsigned count, bool ie, char *err,
			size_t errlen);
/* A cartridge (file, barcode) into an empty slot or I/E element (addr),
 * or the first empty slot (addr < 0). */
int smc_lu_cart_add(struct scsi_lu *lu, int addr, const char *barcode,
		    const char *file, char *err, size_t errlen);
int smc_lu_cart_delete(struct scsi_lu *lu, const char *barcode, char *err,
		       size_t errlen);
/* A drive: LUN drive_lun of the same target (a cd or tape LU). */
int smc_lu_drive_add(struct scsi_lu *lu, uint64_t drive_lun, char *err,
		     size_t errlen);
int smc_lu_drive_delete(struct scsi_lu *lu, uint64_t drive_lun, char *err,
			size_t errlen);

#endif
