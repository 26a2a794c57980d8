import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';

/**
 * A zip archive built byte for byte the same from the same files (stored entries, sorted
 * names, fixed timestamps), so its SHA-256 is known at synth time and the host can check the
 * object it downloads against it before running anything in it.
 */
export interface DeterministicZip {
  readonly bytes: Buffer;
  readonly sha256: string;
}

// CRC-32 (the zip checksum) is bit arithmetic by definition.
/* eslint-disable no-bitwise */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
/* eslint-enable no-bitwise */

/** One file of a zip: its `/`-separated name, its bytes, and whether it is executable (0755). */
export interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
  readonly executable: boolean;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    // Python's byte-code cache (left by a local run of a host tool) is never shipped.
    if (entry.isDirectory() && entry.name === '__pycache__') continue;
    if (entry.isDirectory()) out.push(...listFiles(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Every regular file under `dir` as zip entries (names relative to it, `/`-separated). */
export function directoryEntries(dir: string): ZipEntry[] {
  return listFiles(dir).map((path) => ({
    name: relative(dir, path).split(sep).join('/'),
    data: readFileSync(path),
    // eslint-disable-next-line no-bitwise
    executable: (statSync(path).mode & 0o111) !== 0,
  }));
}

/** Zips every regular file under `dir`. */
export function zipDirectory(dir: string): DeterministicZip {
  return zipEntries(directoryEntries(dir));
}

/** Zips the entries, sorted by name. */
export function zipEntries(entries: ZipEntry[]): DeterministicZip {
  const files = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  // 1980-01-01 00:00 in DOS format (year-1980 in bits 9-15, month in 5-8, day in 0-4).
  const dosTime = 0;
  const dosDate = 0x21;
  for (const file of files) {
    const data = file.data;
    const name = Buffer.from(file.name, 'utf8');
    const crc = crc32(data);
    const mode = file.executable ? 0o100755 : 0o100644;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4); // made by unix (3), zip 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(mode * 0x10000, 38); // unix mode in the high 16 bits
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  const bytes = Buffer.concat([...locals, ...centrals, end]);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * A file asset holding the deterministic zip of `source` (a folder, or entries), uploaded
 * unchanged, and the zip's SHA-256, which user data carries so that the instance verifies what
 * it downloads.
 */
export function verifiedZipAsset(scope: Construct, id: string, source: string | ZipEntry[]):
{ asset: s3assets.Asset; sha256: string; verifiedUrl: string } {
  const zip = typeof source === 'string' ? zipDirectory(source) : zipEntries(source);
  const staging = mkdtempSync(join(tmpdir(), 'verified-zip-'));
  const file = join(staging, `${zip.sha256}.zip`);
  writeFileSync(file, zip.bytes);
  const asset = new s3assets.Asset(scope, id, { path: file });
  // Staging copied the zip into the cloud assembly (a relative assetPath): the temporary copy
  // is no longer needed. With staging disabled (SAM, some tests) the asset points at it: keep.
  if (!isAbsolute(asset.assetPath)) rmSync(staging, { recursive: true, force: true });
  return { asset, sha256: zip.sha256, verifiedUrl: `${asset.s3ObjectUrl}#${zip.sha256}` };
}
