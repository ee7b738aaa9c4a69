/* generated from harness/protocol/spec.py - do not edit; regenerate with
 *     python -m harness.protocol.spec > firmware/protocol/rp_messages.h */
#ifndef RP_MESSAGES_H
#define RP_MESSAGES_H

#define RP_PROTOCOL_VERSION "5"

/* Message kinds (a frame's kind byte); the sender and payload of each. */
enum {
    RP_MSG_HELLO = 1,          /* host: who are you? (max_answer u16) */
    RP_MSG_HELLO_REPLY = 2,    /* device: flags u8 (1: boot banner), the info text's length u16, its first bytes */
    RP_MSG_IMAGE_CHUNK = 3,    /* host: offset u24, the bytes */
    RP_MSG_ACK = 4,            /* device: accepted; an IMAGE_CHUNK's names its offset u24 and those before it */
    RP_MSG_NAK = 5,            /* device: packets dropped so far u32; seq: the last intact frame's */
    RP_MSG_RESULT = 6,         /* device: the result record's length u16, its first bytes */
    RP_MSG_LAYER_REQUEST = 7,  /* host: layer u16, offset u32, length u16 */
    RP_MSG_LAYER_DATA = 8,     /* device: layer u16, offset u32, the bytes */
    RP_MSG_ERROR = 9,          /* device: a refusal, as text */
    RP_MSG_RUN = 10,           /* host: dump_layer u16, image_crc u32, max_answer u16 */
    RP_MSG_LAYER_READY = 11,   /* device: paused after the layer to dump: layer u16, bytes u32 */
    RP_MSG_RESUME = 12,        /* host: finish the paused run */
    RP_MSG_FAULT = 13,         /* device: faulted: ten u32 (exception, registers, running layer); it stops */
    RP_MSG_READ = 14,          /* host: object u8 (1 info text, 2 result record), offset u16, length u16 */
    RP_MSG_DATA = 15,          /* device: object u8, offset u16, the bytes */
    RP_MSG_IMAGE_START = 16,   /* host: a new upload: codec u8 (+ CODEC_STREAM), the stream's bytes u24 */
};

/* stream offsets in IMAGE_CHUNK and its ACK are u24 (streams up to 16 MiB) */
#define RP_OFFSET_BYTES 3
/* an IMAGE_CHUNK's ACK names it and up to two chunks accepted just before */
#define RP_ACK_HISTORY 3
/* RUN's dump_layer when no layer is dumped */
#define RP_NO_LAYER 0xffffu
/* READ's object: the info text of the last HELLO */
#define RP_OBJ_INFO 1
/* READ's object: the last run's result record */
#define RP_OBJ_RESULT 2
/* IMAGE_START's codec: the pixels as they are */
#define RP_CODEC_RAW 0
/* IMAGE_START's codec: the row code (harness/protocol/rowcode.py) */
#define RP_CODEC_ROWS 1
/* IMAGE_START's codec flag: the rows run through the streamed layers as they arrive */
#define RP_CODEC_STREAM 128

#endif /* RP_MESSAGES_H */
