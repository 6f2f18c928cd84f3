/**
 * The SFTP half of the fake server: answers one SFTP channel's requests from a real directory on
 * disk, chroot-style (the client's "/" is that directory). It implements what ssh2-sftp-client
 * uses for put/mkdir/rename/stat/delete/list, and applies the scripted faults of the server.
 */
import {
  closeSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { join, posix } from 'node:path';
import { utils, type Attributes, type FileEntry, type SFTPWrapper } from 'ssh2';

const { STATUS_CODE } = utils.sftp;

/** What the server lets a test script; read at request time, so a test may change it mid-upload. */
export interface SftpFaults {
  /** OPEN for writing answers PERMISSION_DENIED for a path (client view, e.g. "/drops/a.csv") it accepts. */
  denyWrite?: (path: string) => boolean;
  /**
   * Destroys a connection's socket once `afterBytes` were written on it, for the next `times`
   * connections that get that far (each drop uses one; at 0 the fault is spent).
   */
  drop?: { afterBytes: number; times: number };
  /** RENAME answers OP_UNSUPPORTED, like a server without rename. */
  refuseRename?: boolean;
  /** WRITE answers FAILURE "No space left on device". */
  diskFull?: boolean;
}

/** What the server records for assertions. */
export interface SftpRecord {
  /** Bytes written to each path (client view), summed over every connection and attempt. */
  readonly bytesWritten: Map<string, number>;
  /** Every request name in order ("OPEN", "WRITE", ...). */
  readonly requests: string[];
  /** Targets of successful renames, in order (client view). */
  readonly renamed: string[];
}

type Handle = { kind: 'file'; fd: number; path: string } | { kind: 'dir'; entries: FileEntry[]; sent: boolean };

/**
 * Serves one SFTP channel. `drop` destroys the connection's socket (a dropped network, not a
 * polite disconnect).
 */
export function serveSftp(sftp: SFTPWrapper, root: string, faults: SftpFaults, record: SftpRecord, drop: () => void): void {
  const handles = new Map<string, Handle>();
  let nextHandle = 1;
  let connectionBytes = 0;
  // Requests that reached the server in the same network read as the one that triggered a drop
  // are still parsed and emitted by ssh2 after the socket is destroyed (how many depends on how
  // much the client had in flight and on Node's stream buffer sizes: more on Node 22 than on 20).
  // A dropped network delivers nothing more, so they are ignored: no effect on disk, no answer,
  // and above all no second use of a `drop` fault on the connection that already spent one.
  let dropped = false;
  const real = (path: string) => join(root, posix.resolve('/', path)); // "../" cannot climb above root
  const view = (path: string) => posix.resolve('/', path);
  const newHandle = (h: Handle) => {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(nextHandle++);
    handles.set(id.toString('hex'), h);
    return id;
  };
  /** Runs a file-system call and answers OK, or the SFTP status matching its errno. */
  const answer = (reqId: number, fn: () => void) => {
    try {
      fn();
      sftp.status(reqId, STATUS_CODE.OK);
    } catch (error) {
      fail(reqId, error as NodeJS.ErrnoException);
    }
  };
  const fail = (reqId: number, error: NodeJS.ErrnoException) => {
    const code = ['ENOENT', 'ENOTDIR'].includes(error.code ?? '')
      ? STATUS_CODE.NO_SUCH_FILE
      : ['EACCES', 'EPERM'].includes(error.code ?? '') ? STATUS_CODE.PERMISSION_DENIED : STATUS_CODE.FAILURE;
    sftp.status(reqId, code, error.message);
  };
  const attrsResponse = (reqId: number, stat: () => Stats) => {
    try {
      sftp.attrs(reqId, toAttrs(stat()));
    } catch (error) {
      fail(reqId, error as NodeJS.ErrnoException);
    }
  };
  /** Records a request and says whether to serve it (not once this connection was dropped). */
  const serve = (name: string): boolean => {
    if (dropped) return false;
    record.requests.push(name);
    return true;
  };

  sftp.on('OPEN', (reqId, filename, flags) => {
    if (!serve('OPEN')) return;
    const mode = utils.sftp.flagsToString(flags) ?? 'r';
    const writing = mode !== 'r';
    if (writing && faults.denyWrite?.(view(filename))) return sftp.status(reqId, STATUS_CODE.PERMISSION_DENIED, `Permission denied: ${view(filename)}`);
    try {
      const fd = openSync(real(filename), mode.replace('xw', 'wx').replace('xa', 'ax'));
      sftp.handle(reqId, newHandle({ kind: 'file', fd, path: view(filename) }));
    } catch (error) {
      fail(reqId, error as NodeJS.ErrnoException);
    }
  });
  sftp.on('WRITE', (reqId, handle, offset, data) => {
    if (!serve('WRITE')) return;
    const file = handles.get(handle.toString('hex'));
    if (file?.kind !== 'file') return sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
    if (faults.diskFull) return sftp.status(reqId, STATUS_CODE.FAILURE, 'No space left on device');
    writeSync(file.fd, data, 0, data.length, offset);
    record.bytesWritten.set(file.path, (record.bytesWritten.get(file.path) ?? 0) + data.length);
    connectionBytes += data.length;
    if (faults.drop && faults.drop.times > 0 && connectionBytes >= faults.drop.afterBytes) {
      faults.drop.times -= 1;
      dropped = true;
      return drop(); // the write landed on disk but its OK never leaves: a torn upload
    }
    sftp.status(reqId, STATUS_CODE.OK);
  });
  sftp.on('CLOSE', (reqId, handle) => {
    if (!serve('CLOSE')) return;
    const key = handle.toString('hex');
    const h = handles.get(key);
    handles.delete(key);
    answer(reqId, () => h?.kind === 'file' && closeSync(h.fd));
  });
  sftp.on('FSTAT', (reqId, handle) => {
    if (!serve('FSTAT')) return;
    const h = handles.get(handle.toString('hex'));
    if (h?.kind !== 'file') return sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
    attrsResponse(reqId, () => fstatSync(h.fd));
  });
  // Mode changes are accepted and ignored: every file is created 0644 by the test process anyway.
  sftp.on('FSETSTAT', (reqId) => serve('FSETSTAT') && sftp.status(reqId, STATUS_CODE.OK));
  sftp.on('SETSTAT', (reqId) => serve('SETSTAT') && sftp.status(reqId, STATUS_CODE.OK));
  sftp.on('STAT', (reqId, path) => serve('STAT') && attrsResponse(reqId, () => statSync(real(path))));
  sftp.on('LSTAT', (reqId, path) => serve('LSTAT') && attrsResponse(reqId, () => lstatSync(real(path))));
  sftp.on('MKDIR', (reqId, path) => serve('MKDIR') && answer(reqId, () => mkdirSync(real(path))));
  sftp.on('RMDIR', (reqId, path) => serve('RMDIR') && answer(reqId, () => rmdirSync(real(path))));
  sftp.on('REMOVE', (reqId, path) => serve('REMOVE') && answer(reqId, () => unlinkSync(real(path))));
  sftp.on('RENAME', (reqId, from, to) => {
    if (!serve('RENAME')) return;
    if (faults.refuseRename) return sftp.status(reqId, STATUS_CODE.OP_UNSUPPORTED, 'rename is not supported by this server');
    // Like OpenSSH's SFTP v3 rename (link + unlink): an existing target is not replaced.
    if (exists(real(to))) return sftp.status(reqId, STATUS_CODE.FAILURE, 'Failure');
    answer(reqId, () => {
      renameSync(real(from), real(to));
      record.renamed.push(view(to));
    });
  });
  sftp.on('REALPATH', (reqId, path) => {
    if (!serve('REALPATH')) return;
    sftp.name(reqId, [{ filename: view(path), longname: view(path), attrs: {} as Attributes }]);
  });
  sftp.on('OPENDIR', (reqId, path) => {
    if (!serve('OPENDIR')) return;
    try {
      const dir = real(path);
      const entries = readdirSync(dir).map((name) => entry(name, lstatSync(join(dir, name))));
      sftp.handle(reqId, newHandle({ kind: 'dir', entries, sent: false }));
    } catch (error) {
      fail(reqId, error as NodeJS.ErrnoException);
    }
  });
  sftp.on('READDIR', (reqId, handle) => {
    if (!serve('READDIR')) return;
    const h = handles.get(handle.toString('hex'));
    if (h?.kind !== 'dir') return sftp.status(reqId, STATUS_CODE.FAILURE, 'bad handle');
    if (h.sent) return sftp.status(reqId, STATUS_CODE.EOF);
    h.sent = true;
    sftp.name(reqId, h.entries);
  });
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function toAttrs(stat: Stats): Attributes {
  return { mode: stat.mode, uid: stat.uid, gid: stat.gid, size: stat.size, atime: Math.floor(stat.atimeMs / 1000), mtime: Math.floor(stat.mtimeMs / 1000) };
}

/** A directory entry with an `ls -l` style longname, whose first letter ssh2-sftp-client reads as the type. */
function entry(name: string, stat: Stats): FileEntry {
  const type = stat.isDirectory() ? 'd' : stat.isSymbolicLink() ? 'l' : '-';
  return { filename: name, longname: `${type}rw-r--r-- 1 owner group ${stat.size} Jan 1 00:00 ${name}`, attrs: toAttrs(stat) };
}
