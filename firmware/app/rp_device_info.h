/* The device firmware's information text: HELLO_REPLY's key=value pairs (docs/protocol.md), which
 * harness/protocol/session.py parses into DeviceInfo. */
#ifndef RP_DEVICE_INFO_H
#define RP_DEVICE_INFO_H

#include <stdint.h>

/* What the text reports that device.c measures when a HELLO asks (so the pieces of one text agree). */
typedef struct {
    uint32_t ticks;      /* the tick counter then */
    uint32_t rx_dropped; /* bytes the UART lost since boot */
    uint32_t rx_errors;  /* bytes received with line errors since boot */
    int32_t chunk;       /* the largest IMAGE_CHUNK data it takes */
} rp_device_info_values;

/* Writes the text into out, at most n bytes and no NUL; returns its length. */
int32_t rp_device_info(char *out, int32_t n, const rp_device_info_values *v);

#endif /* RP_DEVICE_INFO_H */
