/* Version and built-in defaults shared by lunard, lunarctl and the core. */
#ifndef LUNAR_VERSION_H
#define LUNAR_VERSION_H

#define LUNAR_VERSION		"0.1.0"
#define LUNAR_DEFAULT_CONTROL	"/run/lunar/lunard.sock"
#define LUNAR_DEFAULT_STATE_DIR "/var/lib/lunar"

#endif
