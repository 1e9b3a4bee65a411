#include "keyspace.hpp"

namespace redis {
namespace {

constexpr std::size_t kSampleSize = 20;  // keys looked at per round (Redis: 20 as well)

std::uint64_t random_seed() {
    std::random_device device;
    return (std::uint64_t(device()) << 32) ^ device();
}

}  // namespace

Keyspace::Keyspace() : Keyspace(random_seed()) {}

Keyspace::Keyspace(std::uint64_t seed)
    : map_(16, Hash{SipHash13(seed, seed * 0x9e3779b97f4a7c15ULL + 1)}), random_(seed ^ 0x5bd1e995) {}

std::int64_t Keyspace::wall_clock_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Keyspace::Item* Keyspace::find(std::string_view key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    if (expired(it->second)) {
        ++expired_total_;
        erase(*it);
        return nullptr;
    }
    return &*it;
}

Keyspace::Item& Keyspace::find_or_add(std::string_view key) {
    if (Item* item = find(key)) return *item;
    return *map_.try_emplace(std::string(key)).first;
}

Keyspace::Item& Keyspace::set(std::string_view key, std::string_view value, bool keep_ttl) {
    Item& item = find_or_add(key);
    item.second.value.assign(value.data(), value.size());
    if (!keep_ttl) forget_expiry(item.second);
    return item;
}

bool Keyspace::erase(std::string_view key) {
    Item* item = find(key);
    if (item == nullptr) return false;
    erase(*item);
    return true;
}

void Keyspace::erase(Item& item) {
    forget_expiry(item.second);
    map_.erase(map_.find(item.first));
}

void Keyspace::set_expiry(Item& item, std::int64_t unix_ms) {
    Entry& e = item.second;
    if (e.expires_at < 0) {
        e.slot = volatile_.size();
        volatile_.push_back(&item);
    }
    e.expires_at = unix_ms;
}

bool Keyspace::persist(Item& item) {
    if (item.second.expires_at < 0) return false;
    forget_expiry(item.second);
    return true;
}

void Keyspace::forget_expiry(Entry& e) {
    if (e.expires_at < 0) return;
    Item* last = volatile_.back();
    volatile_[e.slot] = last;
    last->second.slot = e.slot;
    volatile_.pop_back();
    e.expires_at = -1;
}

void Keyspace::clear() {
    map_.clear();
    volatile_.clear();
}

// ANCHOR: expire-cycle
std::size_t Keyspace::expire_cycle(std::chrono::microseconds budget) {
    auto deadline = std::chrono::steady_clock::now() + budget;
    std::size_t deleted = 0;
    for (;;) {
        std::size_t sample = std::min(kSampleSize, volatile_.size()), stale = 0;
        for (std::size_t i = 0; i < sample && !volatile_.empty(); ++i) {
            Item* item = volatile_[random_() % volatile_.size()];
            if (expired(item->second)) {
                erase(*item);
                ++stale;
            }
        }
        deleted += stale;
        expired_total_ += stale;
        // Under a quarter stale: most keys with an expiry are still live, and looking for
        // the few dead ones costs more than the memory they hold.
        if (stale * 4 < sample || sample == 0) break;
        if (std::chrono::steady_clock::now() >= deadline) break;
    }
    return deleted;
}
// ANCHOR_END: expire-cycle

}  // namespace redis
