// Shared between the daemon (crashfs) and the LD_PRELOAD shim (libcrashfs_preload.so).
#pragma once

#include <sys/ioctl.h>

// syncfs(2) of a file on crashfs, relayed by the shim as this ioctl on the same descriptor: plain
// FUSE connections never see syncfs (the kernel sends FUSE_SYNCFS only where the connection
// asked for it, which only virtiofs does), so without the relay syncfs would return 0 at once
// having made nothing durable. The daemon answers 0 (all durable) or EIO (power cut).
#define CRASHFS_IOC_SYNCFS _IO(0xCF, 0x01)
