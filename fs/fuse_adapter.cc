#define FUSE_USE_VERSION 314
#include "fs/fuse_adapter.h"

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <variant>

#include "backends/log.h"

namespace mailfs::fs {

int ToErrno(Errc code) {
  switch (code) {
    case Errc::kNotFound: return ENOENT;
    case Errc::kExists: return EEXIST;
    case Errc::kNotDir: return ENOTDIR;
    case Errc::kIsDir: return EISDIR;
    case Errc::kNotEmpty: return ENOTEMPTY;
    case Errc::kReadOnly: return EROFS;
    case Errc::kUnsupported: return ENOTSUP;
    case Errc::kInvalid: return EINVAL;
    case Errc::kCorrupt:
    case Errc::kIo:
    case Errc::kTransient: return EIO;
    case Errc::kAuth: return EACCES;
    case Errc::kTimeout: return ETIMEDOUT;
    case Errc::kNoSpace: return ENOSPC;
    case Errc::kPermission: return EPERM;
  }
  return EIO;
}

namespace {

// An open directory: the snapshot its READDIR calls page through.
struct DirHandle {
  std::vector<DirEntry> entries;
};

// Per-mount state reachable from every callback through fuse_req_userdata.
struct Context final : Invalidator {
  // Open directories, owned here: a RELEASEDIR can be lost when the session
  // ends while a directory is open, and what is left is freed with the mount.
  std::mutex dirs_mu;
  std::map<std::uint64_t, std::unique_ptr<DirHandle>> dirs;
  std::uint64_t next_dir = 1;

  Filesystem* fs = nullptr;
  fuse_session* session = nullptr;
  double entry_timeout = 1.0;
  double attr_timeout = 1.0;
  double negative_timeout = 0.0;
  bool zero_message_open = false;  // read-only: files are opened by the kernel

  // Invalidations are sent from a worker thread: the kernel may be waiting
  // for the request that caused them (a RENAME in the same directory).
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<Ino, std::string>> queue;  // name empty: inode
  bool stopping = false;
  std::thread worker;

  void InvalidateEntry(Ino parent, const std::string& name) override { Push(parent, name); }
  void InvalidateInode(Ino ino) override { Push(ino, std::string()); }
  void Push(Ino ino, std::string name) {
    {
      std::lock_guard<std::mutex> lock(mu);
      queue.emplace_back(ino, std::move(name));
    }
    cv.notify_one();
  }
  void Run() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty() && stopping) return;
      auto [ino, name] = queue.front();
      queue.pop_front();
      lock.unlock();
      if (session != nullptr) {
        if (name.empty()) {
          fuse_lowlevel_notify_inval_inode(session, ino, 0, 0);
        } else {
          fuse_lowlevel_notify_inval_entry(session, ino, name.c_str(), name.size());
        }
      }
      lock.lock();
    }
  }
};

Context& Ctx(fuse_req_t req) { return *static_cast<Context*>(fuse_req_userdata(req)); }

// Runs |body|; on an exception replies with the errno of design.md §7.
template <typename F>
void Guard(fuse_req_t req, const char* op, F&& body) noexcept {
  int err = 0;
  try {
    body();
    return;
  } catch (const Error& e) {
    err = ToErrno(e.code());
    if (e.code() != Errc::kNotFound) LOG(kDebug) << op << ": " << e.what();
  } catch (const std::bad_alloc&) {
    err = ENOMEM;
  } catch (const std::exception& e) {
    LOG(kError) << op << ": unexpected failure: " << e.what();
    err = EIO;
  }
  fuse_reply_err(req, err);
}

struct stat ToStat(const Attr& a) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = 4096;
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st.st_mtim.tv_sec = a.mtime;
  st.st_mtim.tv_nsec = a.mtime_nsec;
  st.st_atim = st.st_mtim;
  st.st_ctim = st.st_mtim;
  return st;
}

fuse_entry_param ToEntry(const Context& ctx, const Attr& a) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof e);
  e.ino = a.ino;
  e.generation = 1;
  e.attr = ToStat(a);
  e.attr_timeout = ctx.attr_timeout;
  e.entry_timeout = ctx.entry_timeout;
  return e;
}

void OpInit(void* userdata, fuse_conn_info* conn) {
  auto* ctx = static_cast<Context*>(userdata);
  // Read-only mounts: messages never change and nothing is committed, so the
  // kernel may open files and close them without asking (OPEN answered
  // ENOSYS once, FLUSH likewise): three round trips fewer per file read.
  if (!ctx->fs->options().writable && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)) {
    conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
    ctx->zero_message_open = true;
  }
  // No ACLs: FUSE_CAP_POSIX_ACL stays off, so system.posix_acl_* reach
  // OpGetxattr, which answers EOPNOTSUPP at once. ls -l then stops asking
  // for the rest of the mount after its first file (with the capability on,
  // the kernel asked once for every inode: 100,000 round trips for a big
  // folder listed after a remount).
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_POSIX_ACL);
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_READDIRPLUS_AUTO);
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_AUTO_INVAL_DATA);
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Context& ctx = Ctx(req);
  try {
    Attr a = ctx.fs->Lookup(parent, name);
    fuse_entry_param e = ToEntry(ctx, a);
    fuse_reply_entry(req, &e);
  } catch (const Error& e) {
    if (e.code() == Errc::kNotFound && ctx.negative_timeout > 0) {
      fuse_entry_param neg;
      std::memset(&neg, 0, sizeof neg);
      neg.entry_timeout = ctx.negative_timeout;
      fuse_reply_entry(req, &neg);
      return;
    }
    Guard(req, "lookup", [&] { throw; });
  } catch (...) {
    Guard(req, "lookup", [&] { throw; });
  }
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  try {
    Ctx(req).fs->Forget(ino, nlookup);
  } catch (...) {
  }
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) {
    try {
      Ctx(req).fs->Forget(forgets[i].ino, forgets[i].nlookup);
    } catch (...) {
    }
  }
  fuse_reply_none(req);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Guard(req, "getattr", [&] {
    struct stat st = ToStat(Ctx(req).fs->GetAttr(ino));
    fuse_reply_attr(req, &st, Ctx(req).attr_timeout);
  });
}

void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  Guard(req, "setattr", [&] {
    SetAttrRequest r;
    if (to_set & FUSE_SET_ATTR_MTIME) r.mtime = attr->st_mtim.tv_sec;
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) r.mtime = static_cast<std::int64_t>(::time(nullptr));
    if (to_set & FUSE_SET_ATTR_SIZE) r.size = static_cast<std::uint64_t>(attr->st_size);
    r.mode = (to_set & FUSE_SET_ATTR_MODE) != 0;
    r.owner = (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) != 0;
    struct stat st = ToStat(Ctx(req).fs->SetAttr(ino, r));
    fuse_reply_attr(req, &st, Ctx(req).attr_timeout);
  });
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Guard(req, "opendir", [&] {
    Context& ctx = Ctx(req);
    auto dh = std::make_unique<DirHandle>();
    dh->entries = ctx.fs->ReadDir(ino);
    std::lock_guard<std::mutex> lock(ctx.dirs_mu);
    fi->fh = ctx.next_dir++;
    ctx.dirs[fi->fh] = std::move(dh);
    // The kernel may keep a folder's entries only when nothing but this
    // mount changes the store; a folder listed again (IMAP) must be read anew.
    const fs::Options& o = Ctx(req).fs->options();
    fi->cache_readdir = !o.writable && o.relist_seconds == 0 ? 1 : 0;
    fi->keep_cache = fi->cache_readdir;
    fuse_reply_open(req, fi);
  });
}

void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  Guard(req, plus ? "readdirplus" : "readdir", [&] {
    Context& ctx = Ctx(req);
    DirHandle* dh = nullptr;
    {
      std::lock_guard<std::mutex> lock(ctx.dirs_mu);
      auto it = ctx.dirs.find(fi->fh);
      if (it == ctx.dirs.end()) throw Error(Errc::kInvalid, "bad directory handle");
      dh = it->second.get();  // stays until RELEASEDIR, which follows the last READDIR
    }
    std::vector<char> buf(size);
    size_t used = 0;
    size_t total = dh->entries.size() + 2;
    for (size_t i = static_cast<size_t>(off); i < total; ++i) {
      std::string name;
      Attr a;
      if (i == 0) {
        name = ".";
        a.ino = ino;
        a.mode = S_IFDIR;
      } else if (i == 1) {
        name = "..";
        a.ino = ino;  // the kernel ignores it
        a.mode = S_IFDIR;
      } else {
        name = dh->entries[i - 2].name;
        a = dh->entries[i - 2].attr;
      }
      size_t n;
      if (plus) {
        fuse_entry_param e = ToEntry(ctx, a);
        if (i < 2) {
          std::memset(&e, 0, sizeof e);
          e.attr.st_ino = a.ino;
          e.attr.st_mode = a.mode;
        }
        n = fuse_add_direntry_plus(req, buf.data() + used, size - used, name.c_str(), &e,
                                   static_cast<off_t>(i + 1));
      } else {
        struct stat st = ToStat(a);
        n = fuse_add_direntry(req, buf.data() + used, size - used, name.c_str(), &st, static_cast<off_t>(i + 1));
      }
      if (n > size - used) break;
      if (plus && i >= 2) ctx.fs->AddLookup(a.ino);
      used += n;
    }
    fuse_reply_buf(req, buf.data(), used);
  });
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, false);
}
void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, true);
}
void OpReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  {
    Context& ctx = Ctx(req);
    std::lock_guard<std::mutex> lock(ctx.dirs_mu);
    ctx.dirs.erase(fi->fh);
  }
  fuse_reply_err(req, 0);
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (Ctx(req).zero_message_open && (fi->flags & O_ACCMODE) == O_RDONLY) {
    fuse_reply_err(req, ENOSYS);  // "open it yourself" (FUSE_CAP_NO_OPEN_SUPPORT)
    return;
  }
  Guard(req, "open", [&] {
    Filesystem& fs = *Ctx(req).fs;
    fi->fh = fs.Open(ino, fi->flags);
    // Committed messages never change under one inode: let the kernel keep
    // their pages (design.md §5).
    bool read_only = (fi->flags & O_ACCMODE) == O_RDONLY;
    fi->keep_cache = read_only && fs.IsCommittedMessage(ino) ? 1 : 0;
    fi->noflush = 0;
    fuse_reply_open(req, fi);
  });
}

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t, fuse_file_info* fi) {
  Guard(req, "create", [&] {
    Context& ctx = Ctx(req);
    Filesystem::Created c = ctx.fs->Create(parent, name, fi->flags);
    fi->fh = c.fh;
    fi->keep_cache = 0;
    fuse_entry_param e = ToEntry(ctx, c.attr);
    e.attr_timeout = 0;
    fuse_reply_create(req, &e, fi);
  });
}

void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Guard(req, "read", [&] {
    std::unique_ptr<char[]> buf(new char[size]);
    Filesystem& fs = *Ctx(req).fs;
    size_t n = fi->fh == 0 ? fs.ReadNode(ino, static_cast<std::uint64_t>(off), buf.get(), size)
                           : fs.Read(fi->fh, static_cast<std::uint64_t>(off), buf.get(), size);
    fuse_reply_buf(req, buf.get(), n);
  });
}

void OpWrite(fuse_req_t req, fuse_ino_t, const char* data, size_t size, off_t off, fuse_file_info* fi) {
  Guard(req, "write", [&] {
    size_t n = Ctx(req).fs->Write(fi->fh, static_cast<std::uint64_t>(off), data, size);
    fuse_reply_write(req, n);
  });
}

void OpFlush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  // Writable mounts commit here and must never answer ENOSYS (the kernel
  // would stop sending FLUSH). Read-only mounts have nothing to flush.
  if (Ctx(req).zero_message_open) {
    fuse_reply_err(req, ENOSYS);
    return;
  }
  Guard(req, "flush", [&] {
    Ctx(req).fs->Flush(fi->fh);
    fuse_reply_err(req, 0);
  });
}

void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  if (fi->fh == 0) {
    fuse_reply_err(req, 0);
    return;
  }
  Guard(req, "release", [&] {
    Ctx(req).fs->Release(fi->fh);
    fuse_reply_err(req, 0);
  });
}

void OpFsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
  Guard(req, "fsync", [&] {
    Ctx(req).fs->Fsync(fi->fh);
    fuse_reply_err(req, 0);
  });
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t) {
  Guard(req, "mkdir", [&] {
    Context& ctx = Ctx(req);
    fuse_entry_param e = ToEntry(ctx, ctx.fs->Mkdir(parent, name));
    fuse_reply_entry(req, &e);
  });
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, "unlink", [&] {
    Ctx(req).fs->Unlink(parent, name);
    fuse_reply_err(req, 0);
  });
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, "rmdir", [&] {
    Ctx(req).fs->Rmdir(parent, name);
    fuse_reply_err(req, 0);
  });
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
              unsigned int flags) {
  try {
    Ctx(req).fs->Rename(parent, name, newparent, newname, flags);
    fuse_reply_err(req, 0);
  } catch (const Error& e) {
    // A dot-folder crossing into the store is "another device" (mv copies).
    if (e.code() == Errc::kUnsupported) {
      fuse_reply_err(req, EXDEV);
      return;
    }
    Guard(req, "rename", [&] { throw; });
  } catch (...) {
    Guard(req, "rename", [&] { throw; });
  }
}

void OpStatfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs st;
  std::memset(&st, 0, sizeof st);
  st.f_bsize = 4096;
  st.f_frsize = 4096;
  st.f_namemax = 255;
  st.f_blocks = 1ull << 30;
  st.f_bfree = Ctx(req).fs->options().writable ? (1ull << 29) : 0;
  st.f_bavail = st.f_bfree;
  st.f_files = 1ull << 24;
  st.f_ffree = st.f_bfree ? (1ull << 23) : 0;
  fuse_reply_statfs(req, &st);
}

void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size, int) {
  Guard(req, "setxattr", [&] {
    Ctx(req).fs->SetXattr(ino, name, std::string(value, size));
    fuse_reply_err(req, 0);
  });
}

// system.*, security.* and trusted.* name nothing mailfs stores (design §5):
// EOPNOTSUPP, which tools take as "not supported on this file system" and
// stop asking (ls -l asks for security.selinux and the ACLs of every file
// until it sees it), never ENODATA, which they ask again for every file.
bool IsForeignXattr(const char* name) {
  return std::strncmp(name, "system.", 7) == 0 || std::strncmp(name, "security.", 9) == 0 ||
         std::strncmp(name, "trusted.", 8) == 0;
}

void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  if (IsForeignXattr(name)) {
    fuse_reply_err(req, EOPNOTSUPP);
    return;
  }
  try {
    std::string v = Ctx(req).fs->GetXattr(ino, name);
    if (size == 0) {
      fuse_reply_xattr(req, v.size());
    } else if (size < v.size()) {
      fuse_reply_err(req, ERANGE);
    } else {
      fuse_reply_buf(req, v.data(), v.size());
    }
  } catch (const Error& e) {
    // A missing attribute is ENODATA, never EIO (design.md §5).
    if (e.code() == Errc::kNotFound) {
      fuse_reply_err(req, ENODATA);
      return;
    }
    Guard(req, "getxattr", [&] { throw; });
  } catch (...) {
    Guard(req, "getxattr", [&] { throw; });
  }
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Guard(req, "listxattr", [&] {
    std::string list;
    for (const auto& n : Ctx(req).fs->ListXattr(ino)) {
      list += n;
      list.push_back('\0');
    }
    if (size == 0) {
      fuse_reply_xattr(req, list.size());
    } else if (size < list.size()) {
      fuse_reply_err(req, ERANGE);
    } else {
      fuse_reply_buf(req, list.data(), list.size());
    }
  });
}

void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  try {
    Ctx(req).fs->RemoveXattr(ino, name);
    fuse_reply_err(req, 0);
  } catch (const Error& e) {
    if (e.code() == Errc::kNotFound) {
      fuse_reply_err(req, ENODATA);
      return;
    }
    Guard(req, "removexattr", [&] { throw; });
  } catch (...) {
    Guard(req, "removexattr", [&] { throw; });
  }
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetattr;
  ops.setattr = OpSetattr;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.readdirplus = OpReaddirplus;
  ops.releasedir = OpReleasedir;
  ops.open = OpOpen;
  ops.create = OpCreate;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.flush = OpFlush;
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.mkdir = OpMkdir;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmdir;
  ops.rename = OpRename;
  ops.statfs = OpStatfs;
  ops.setxattr = OpSetxattr;
  ops.getxattr = OpGetxattr;
  ops.listxattr = OpListxattr;
  ops.removexattr = OpRemovexattr;
  return ops;
}

// fsname may not contain a comma (it would split the option list).
std::string EscapeOptionValue(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

int RunFuse(Filesystem& fs, const FuseConfig& config, const std::function<void()>& on_mounted) {
  Context ctx;
  ctx.fs = &fs;
  if (fs.options().writable) {
    ctx.entry_timeout = 1.0;
    ctx.attr_timeout = 1.0;
    ctx.negative_timeout = 0.0;
  } else {
    // A read-only store never changes under the mount.
    ctx.entry_timeout = 86400.0;
    ctx.attr_timeout = 86400.0;
    ctx.negative_timeout = 86400.0;
  }

  std::vector<std::string> argv_s = {"mailfs"};
  if (config.debug) argv_s.push_back("-d");
  std::string opts = "fsname=" + EscapeOptionValue(config.fsname) + ",subtype=mailfs";
  if (config.read_only) opts += ",ro";
  if (config.allow_other) opts += ",allow_other,default_permissions";
  for (const auto& o : config.extra_options) opts += "," + o;
  argv_s.push_back("-o");
  argv_s.push_back(opts);
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  fuse_lowlevel_ops ops = MakeOps();
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, &ctx);  // ctx: userdata of init too
  if (se == nullptr) {
    LOG(kError) << "cannot create the FUSE session (see the message above)";
    return 4;
  }
  if (fuse_set_signal_handlers(se) != 0) {
    fuse_session_destroy(se);
    return 4;
  }
  if (fuse_session_mount(se, config.mountpoint.c_str()) != 0) {
    LOG(kError) << "cannot mount on " << config.mountpoint;
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return 4;
  }
  ctx.session = se;
  if (on_mounted) on_mounted();
  // Daemonising forks: no thread of ours may exist before it (a lock held by
  // another thread at fork time stays held in the child forever).
  fuse_daemonize(config.foreground ? 1 : 0);
  fs.SetInvalidator(&ctx);
  ctx.worker = std::thread([&ctx] { ctx.Run(); });

  fuse_loop_config* loop = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(loop, config.max_threads);
  fuse_loop_cfg_set_clone_fd(loop, 0);
  int rc = fuse_session_loop_mt(se, loop);
  fuse_loop_cfg_destroy(loop);

  fs.SetInvalidator(nullptr);
  {
    std::lock_guard<std::mutex> lock(ctx.mu);
    ctx.stopping = true;
  }
  ctx.cv.notify_one();
  ctx.worker.join();
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  return rc < 0 ? 4 : 0;
}

}  // namespace mailfs::fs
