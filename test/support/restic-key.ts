/**
 * Re-wraps a restic repository's master key with a cheap scrypt cost, for test repositories.
 *
 * `restic init` calibrates scrypt to ~0.5 s of CPU on the machine that runs it, and every
 * later restic command pays that again to open the repository. The backup suites run restic
 * ~500 times, so the KDF alone was ~4 CPU-minutes of a 2-core machine's test run. restic's own
 * tests lower the cost the same way (`repository.TestUseLowSecurityKDFParameters`). The tool
 * under test never sees the KDF parameters: the master key, the repository and every command
 * stay the same; only the time to unwrap the key changes. Production repositories keep the key
 * restic made.
 *
 * The key file format (restic's design doc, "Keys, Encryption and MAC"): scrypt(password, salt,
 * N, r, p) gives 64 bytes: a 32-byte AES-256 key, then the MAC key k||r (16 bytes each). `data`
 * is IV || AES-256-CTR(master key JSON) || Poly1305-AES(ciphertext) with the IV as nonce.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** What the re-wrapped key costs: ~1 MiB and a few milliseconds (restic's minimum is N > 1). */
export const TEST_KDF = { N: 1024, r: 8, p: 1 } as const;

interface KeyFile {
  readonly kdf: string;
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string;
  readonly data: string;
  readonly [other: string]: unknown;
}

/** Returns the key file re-wrapped at TEST_KDF; throws if the password does not open it. */
export function rewrapKeyFile(keyFile: Buffer | string, password: string): Buffer {
  const key = JSON.parse(keyFile.toString()) as KeyFile;
  if (key.kdf !== 'scrypt') throw new Error(`restic key file: unsupported kdf ${JSON.stringify(key.kdf)}`);
  const masterKeyJson = open(Buffer.from(key.data, 'base64'), derive(password, Buffer.from(key.salt, 'base64'), key));
  const salt = crypto.randomBytes(64);
  const data = seal(masterKeyJson, derive(password, salt, TEST_KDF));
  return Buffer.from(JSON.stringify({ ...key, ...TEST_KDF, salt: salt.toString('base64'), data: data.toString('base64') }));
}

/** A restic file's id: the SHA-256 of its content. */
export function fileId(content: Buffer): string {
  return crypto.createHash('sha256').update(content).digest('hex');
}

interface UserKey { readonly encrypt: Buffer; readonly macK: Buffer; readonly macR: Buffer }

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }): UserKey {
  const bytes = crypto.scryptSync(password, salt, 64, { N: params.N, r: params.r, p: params.p, maxmem: 512 * 1024 * 1024 });
  return { encrypt: bytes.subarray(0, 32), macK: bytes.subarray(32, 48), macR: bytes.subarray(48, 64) };
}

function open(data: Buffer, key: UserKey): Buffer {
  const iv = data.subarray(0, 16);
  const ciphertext = data.subarray(16, data.length - 16);
  const mac = data.subarray(data.length - 16);
  if (!crypto.timingSafeEqual(mac, poly1305Aes(ciphertext, iv, key))) {
    throw new Error('restic key file: the MAC does not match (wrong password, or a damaged key file)');
  }
  const decipher = crypto.createDecipheriv('aes-256-ctr', key.encrypt, iv);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

function seal(plaintext: Buffer, key: UserKey): Buffer {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-256-ctr', key.encrypt, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, ciphertext, poly1305Aes(ciphertext, iv, key)]);
}

// Poly1305 is arithmetic on 130-bit numbers, defined with shifts and masks.
/* eslint-disable no-bitwise */
/** Poly1305-AES as restic uses it: r from the MAC key (clamped), s = AES-128_k(nonce). */
function poly1305Aes(message: Buffer, nonce: Buffer, key: UserKey): Buffer {
  const aes = crypto.createCipheriv('aes-128-ecb', key.macK, null).setAutoPadding(false);
  const s = Buffer.concat([aes.update(nonce), aes.final()]);
  const p = (1n << 130n) - 5n;
  const r = littleEndian(key.macR) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  let acc = 0n;
  for (let i = 0; i < message.length; i += 16) {
    const block = message.subarray(i, i + 16);
    acc = ((acc + littleEndian(block) + (1n << BigInt(8 * block.length))) * r) % p;
  }
  acc = (acc + littleEndian(s)) & ((1n << 128n) - 1n);
  const tag = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) {
    tag[i] = Number(acc & 0xffn);
    acc >>= 8n;
  }
  return tag;
}

function littleEndian(bytes: Buffer): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/** useTestKeyCost for a repository on the local filesystem (`restic -r /path`). */
export function useTestKeyCostLocal(repository: string, password: string): void {
  const keysDir = path.join(repository, 'keys');
  const keys = fs.readdirSync(keysDir);
  if (keys.length !== 1) throw new Error(`expected one restic key in ${keysDir}, found ${keys.length}`);
  const rewrapped = rewrapKeyFile(fs.readFileSync(path.join(keysDir, keys[0])), password);
  fs.writeFileSync(path.join(keysDir, fileId(rewrapped)), rewrapped, { mode: 0o400 });
  fs.rmSync(path.join(keysDir, keys[0]));
}
/* eslint-enable no-bitwise */
