import { gzipSync } from 'node:zlib';

/**
 * A minimal, deterministic ustar writer (regular files only), gzipped: enough for a support bundle.
 */
export function tarGz(files: { name: string; body: Uint8Array }[], mtime: Date): Uint8Array {
  const blocks: Buffer[] = [];
  const seconds = Math.floor(mtime.getTime() / 1000);
  for (const file of files) {
    if (Buffer.byteLength(file.name) > 99) throw new Error(`tar entry name too long: ${file.name}`);
    const header = Buffer.alloc(512);
    const field = (value: string, offset: number, length: number) =>
      header.write(value, offset, length, 'ascii');
    field(file.name, 0, 100);
    field('0000644\0', 100, 8);
    field('0000000\0', 108, 8);
    field('0000000\0', 116, 8);
    field(`${file.body.byteLength.toString(8).padStart(11, '0')}\0`, 124, 12);
    field(`${seconds.toString(8).padStart(11, '0')}\0`, 136, 12);
    field('        ', 148, 8);
    field('0', 156, 1);
    field('ustar\0', 257, 6);
    field('00', 263, 2);
    field('opsrail', 265, 32);
    field('opsrail', 297, 32);
    const checksum = header.reduce((sum, byte) => sum + byte, 0);
    field(`${checksum.toString(8).padStart(6, '0')}\0 `, 148, 8);
    blocks.push(
      header,
      Buffer.from(file.body),
      Buffer.alloc((512 - (file.body.byteLength % 512)) % 512),
    );
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks), { level: 9 });
}
