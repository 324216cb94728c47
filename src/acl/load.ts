/**
 * Reading the access-control file. The file decides who may do what, so it must be a regular file
 * owned by the daemon's user or root that nobody else can write.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { ConfigError } from '../util/errors.js';
import { parseAcl, type AclPolicy } from './policy.js';

export const aclFileBytesMax = 4 * 1024 * 1024;

export function readAclText(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(path, 0, 'access control file is not a regular file');
    const euid = typeof process.geteuid === 'function' ? process.geteuid() : st.uid;
    if (st.uid !== euid && st.uid !== 0) throw new ConfigError(path, 0, `owned by uid ${st.uid}; it must belong to root or uid ${euid}`);
    if ((st.mode & 0o022) !== 0) throw new ConfigError(path, 0, `mode 0${(st.mode & 0o777).toString(8)} lets others change the rules; run: chmod go-w ${path}`);
    if (st.size > aclFileBytesMax) throw new ConfigError(path, 0, `larger than ${aclFileBytesMax} bytes`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Loads and parses the access-control file; ConfigError with file:line on any problem. */
export function loadAcl(path: string): AclPolicy {
  return parseAcl(readAclText(path), path);
}
