// nlsock: netlink socket I/O for Node (open in a netns, batched send-and-collect off the JS thread,
// multicast watch). Every message is encoded and decoded in TypeScript (src/kernel/netlink/).
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

namespace {

// Large enough for any single datagram the kernel sends (dump skbs are capped at 32 KiB).
constexpr size_t kRecvBufferBytes = 64 * 1024;

Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

int SendToKernel(int fd, const uint8_t* data, size_t len) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(fd, data, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  return static_cast<size_t>(n) == len ? 0 : EMSGSIZE;
}

// Sends one batch and collects every reply datagram until each request in it (sequence numbers
// firstSeq .. firstSeq+count-1) has seen its terminal message: NLMSG_ERROR (ACK/NACK) or NLMSG_DONE.
// With a state buffer (two int32s), the outcome is also published there the moment the batch settles, for
// JS code that is busy and cannot wait for the callback: [1] = NACKs seen (-1: the transaction failed),
// then [0] = 1. The replies still go to the callback, decoded in TypeScript.
class TransactWorker : public Napi::AsyncWorker {
 public:
  TransactWorker(Napi::Function cb, int fd, const uint8_t* data, size_t len, uint32_t firstSeq,
                 uint32_t count, int timeoutMs, int32_t* state, Napi::Object stateOwner)
      : Napi::AsyncWorker(cb, "nlsock.transact"), fd_(fd), request_(data, data + len),
        firstSeq_(firstSeq), count_(count), timeoutMs_(timeoutMs), state_(state) {
    if (state_ != nullptr) stateOwner_ = Napi::Persistent(stateOwner);
  }

  void Execute() override {
    Collect();
    if (state_ != nullptr) {
      __atomic_store_n(&state_[1], err_ != 0 ? -1 : nacks_, __ATOMIC_RELAXED);
      __atomic_store_n(&state_[0], 1, __ATOMIC_RELEASE);
    }
  }

  void Collect() {
    if ((err_ = SendToKernel(fd_, request_.data(), request_.size())) != 0) { syscall_ = "sendto"; return; }
    std::vector<uint8_t> buf(kRecvBufferBytes);
    uint32_t terminals = 0;
    while (terminals < count_) {
      pollfd pfd{fd_, POLLIN, 0};
      int ready = poll(&pfd, 1, timeoutMs_);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) { err_ = ready == 0 ? ETIMEDOUT : errno; syscall_ = "poll"; return; }
      ssize_t n = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) { err_ = errno; syscall_ = "recv"; return; }
      if (static_cast<size_t>(n) > buf.size()) { err_ = EMSGSIZE; syscall_ = "recv"; return; }
      size_t off = 0;
      while (off + sizeof(nlmsghdr) <= static_cast<size_t>(n)) {
        const nlmsghdr* h = reinterpret_cast<const nlmsghdr*>(buf.data() + off);
        if (h->nlmsg_len < sizeof(nlmsghdr) || off + h->nlmsg_len > static_cast<size_t>(n)) break;
        bool terminal = h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE;
        if (terminal && h->nlmsg_seq - firstSeq_ < count_) {
          terminals++;
          const size_t errorAt = sizeof(nlmsghdr);
          if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_len >= errorAt + sizeof(int32_t) &&
              *reinterpret_cast<const int32_t*>(buf.data() + off + errorAt) != 0) nacks_++;
        }
        off += NLMSG_ALIGN(h->nlmsg_len);
      }
      replies_.insert(replies_.end(), buf.data(), buf.data() + n);
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      Callback().Call({ErrnoError(env, syscall_, err_).Value()});
      return;
    }
    Callback().Call({env.Null(), Napi::Buffer<uint8_t>::Copy(env, replies_.data(), replies_.size())});
  }

 private:
  int fd_;
  std::vector<uint8_t> request_;
  uint32_t firstSeq_, count_;
  int timeoutMs_;
  int err_ = 0;
  const char* syscall_ = "";
  std::vector<uint8_t> replies_;
  int32_t* state_;
  Napi::ObjectReference stateOwner_;  // keeps the state buffer alive while the worker writes to it
  int32_t nacks_ = 0;
};

// One uv_poll per watched socket; the handle frees itself once uv_close completes.
struct Watch {
  uv_poll_t poll;
  int fd;
  Napi::Env env;
  Napi::FunctionReference callback;
};

class NlSock : public Napi::Addon<NlSock> {
 public:
  NlSock(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
      InstanceMethod("open", &NlSock::Open),
      InstanceMethod("bind", &NlSock::Bind),
      InstanceMethod("addMembership", &NlSock::AddMembership),
      InstanceMethod("transact", &NlSock::Transact),
      InstanceMethod("watch", &NlSock::WatchFd),
      InstanceMethod("close", &NlSock::Close),
    });
  }

 private:
  std::map<int, Watch*> watches_;

  // open(protocol, netnsPath?, rcvbufBytes?, sndbufBytes?) -> fd. With a netns path the socket is created inside
  // that namespace (a socket keeps the namespace it was born in) and this thread switches back.
  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int protocol = info[0].As<Napi::Number>().Int32Value();
    int origNs = -1, fd = -1, err = 0;
    const char* failed = "";
    if (info.Length() > 1 && info[1].IsString()) {
      std::string path = info[1].As<Napi::String>().Utf8Value();
      origNs = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (origNs < 0) throw ErrnoError(env, "open(/proc/thread-self/ns/net)", errno);
      int targetNs = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (targetNs < 0) {
        err = errno; failed = "open(netns)";
      } else {
        if (setns(targetNs, CLONE_NEWNET) < 0) { err = errno; failed = "setns"; }
        close(targetNs);
      }
    }
    if (err == 0) {
      fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
      if (fd < 0) { err = errno; failed = "socket"; }
    }
    if (origNs >= 0) {
      // Staying in the wrong namespace would silently misdirect every later syscall of this thread.
      if (setns(origNs, CLONE_NEWNET) < 0) Napi::Error::Fatal("nlsock.open", "cannot return to the original netns");
      close(origNs);
    }
    if (err != 0) throw ErrnoError(env, failed, err);
    int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);  // NACKs carry the kernel's reason
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);  // NACKs do not echo the request
    if (info.Length() > 2 && info[2].IsNumber()) {
      int bytes = info[2].As<Napi::Number>().Int32Value();
      // FORCE ignores rmem_max (needs CAP_NET_ADMIN); fall back to the capped variant.
      if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
    if (info.Length() > 3 && info[3].IsNumber()) {
      // A datagram may be as big as the send buffer: big batches go in few sendto calls.
      int bytes = info[3].As<Napi::Number>().Int32Value();
      if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    }
    return Napi::Number::New(env, fd);
  }

  // bind(fd, groups=0) -> the port id the kernel assigned.
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = info.Length() > 1 ? info[1].As<Napi::Number>().Uint32Value() : 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) throw ErrnoError(info.Env(), "bind", errno);
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) throw ErrnoError(info.Env(), "getsockname", errno);
    return Napi::Number::New(info.Env(), addr.nl_pid);
  }

  Napi::Value AddMembership(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    int group = info[1].As<Napi::Number>().Int32Value();
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
      throw ErrnoError(info.Env(), "setsockopt(NETLINK_ADD_MEMBERSHIP)", errno);
    return info.Env().Undefined();
  }

  // transact(fd, buffer, firstSeq, count, timeoutMs, cb(err, replies), state?) on the libuv threadpool.
  Napi::Value Transact(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
    uint32_t firstSeq = info[2].As<Napi::Number>().Uint32Value();
    uint32_t count = info[3].As<Napi::Number>().Uint32Value();
    int timeoutMs = info[4].As<Napi::Number>().Int32Value();
    int32_t* state = nullptr;
    Napi::Object stateOwner;
    if (info.Length() > 6 && info[6].IsBuffer()) {
      Napi::Buffer<uint8_t> st = info[6].As<Napi::Buffer<uint8_t>>();
      if (st.Length() < 8 || reinterpret_cast<uintptr_t>(st.Data()) % alignof(int32_t) != 0) {
        Napi::TypeError::New(info.Env(), "nlsock.transact: state must be 8 aligned bytes").ThrowAsJavaScriptException();
        return info.Env().Undefined();
      }
      state = reinterpret_cast<int32_t*>(st.Data());
      stateOwner = st;
    }
    auto* worker = new TransactWorker(info[5].As<Napi::Function>(), fd, buf.Data(), buf.Length(), firstSeq,
                                      count, timeoutMs, state, stateOwner);
    worker->Queue();
    return info.Env().Undefined();
  }

  static void OnReadable(uv_poll_t* handle, int status, int) {
    Watch* w = static_cast<Watch*>(handle->data);
    Napi::HandleScope scope(w->env);
    std::vector<uint8_t> all, buf(kRecvBufferBytes);
    bool overrun = status < 0;
    for (;;) {
      ssize_t n = recv(w->fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == ENOBUFS) { overrun = true; continue; }  // the kernel dropped events
      if (n <= 0) break;
      all.insert(all.end(), buf.data(), buf.data() + n);
    }
    // libuv stops a poll handle whose fd reports POLLERR (netlink's ENOBUFS); the recv above cleared
    // the error, so keep watching.
    if (status < 0) uv_poll_start(&w->poll, UV_READABLE, OnReadable);
    if (all.empty() && !overrun) return;
    Napi::Value data = Napi::Buffer<uint8_t>::Copy(w->env, all.data(), all.size());
    try {
      w->callback.MakeCallback(w->env.Global(), {data, Napi::Boolean::New(w->env, overrun)});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(w->env, e.Value());  // surfaces as process 'uncaughtException'
    }
  }

  // watch(fd, cb(datagrams: Buffer, overrun: boolean)) until close(fd).
  Napi::Value WatchFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    if (watches_.count(fd)) throw Napi::Error::New(env, "nlsock.watch: fd already watched");
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    auto* w = new Watch{{}, fd, env, Napi::Persistent(info[1].As<Napi::Function>())};
    w->poll.data = w;
    int rc = uv_poll_init(loop, &w->poll, fd);
    if (rc == 0) rc = uv_poll_start(&w->poll, UV_READABLE, OnReadable);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
      throw Napi::Error::New(env, std::string("nlsock.watch: ") + uv_strerror(rc));
    }
    watches_[fd] = w;
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    auto it = watches_.find(fd);
    if (it != watches_.end()) {
      uv_poll_stop(&it->second->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&it->second->poll), [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
      watches_.erase(it);
    }
    if (close(fd) < 0) throw ErrnoError(info.Env(), "close", errno);
    return info.Env().Undefined();
  }
};

}  // namespace

NODE_API_ADDON(NlSock)
