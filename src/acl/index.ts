export { compileGlob, type Glob } from './glob.js';
export * from './policy.js';
export { loadAcl, readAclText, aclFileBytesMax } from './load.js';
export { AclWatcher, type AclWatcherOptions, type AclLog } from './watcher.js';
export { sessionIdentity, type SessionAuthFacts } from './identity.js';
