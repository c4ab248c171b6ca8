// A read-mostly hash table for the metrics hot path: lock-free lookups,
// insertions under the owner's lock.
//
// Open addressing with linear probing over an array of atomic pointers to
// entries that carry their own 64-bit `hash`. Readers load the current array
// (acquire) and probe; writers (serialized by the caller) fill an empty slot
// with a release store, or, past half full, build an array twice as large
// and publish it. Replaced arrays are kept until the table is destroyed, so
// a reader still probing one never touches freed memory (the total kept is
// under twice the final size). Entries are never removed.
//
// Thread-safety: find() from any thread at any time; insert() only with the
// owner's lock held. The table does not own the entries.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace emp::telemetry::metrics {

template <typename T>
class LookupTable {
 public:
  explicit LookupTable(std::size_t initial_capacity = 16) {
    std::size_t cap = 16;
    while (cap < initial_capacity) cap <<= 1;
    arrays_.push_back(std::make_unique<Array>(cap));
    current_.store(arrays_.back().get(), std::memory_order_release);
  }
  LookupTable(const LookupTable&) = delete;
  LookupTable& operator=(const LookupTable&) = delete;

  // The entry with `hash` for which eq(entry) holds, or nullptr.
  template <typename Eq>
  T* find(std::uint64_t hash, Eq&& eq) const noexcept {
    const Array* a = current_.load(std::memory_order_acquire);
    const std::size_t mask = a->mask;
    for (std::size_t i = hash & mask, probes = 0; probes <= mask; i = (i + 1) & mask, ++probes) {
      T* e = a->slots[i].load(std::memory_order_acquire);
      if (e == nullptr) return nullptr;
      if (e->hash == hash && eq(*e)) return e;
    }
    return nullptr;
  }

  // Caller holds the owner's lock and has checked that no equal entry exists.
  void insert(T* e) {
    Array* a = current_.load(std::memory_order_relaxed);
    if ((count_ + 1) * 2 > a->mask + 1) {
      auto bigger = std::make_unique<Array>((a->mask + 1) * 2);
      for (std::size_t i = 0; i <= a->mask; ++i) {
        if (T* old = a->slots[i].load(std::memory_order_relaxed)) place(*bigger, old);
      }
      a = bigger.get();
      arrays_.push_back(std::move(bigger));
      // Fill before publishing: readers see either the old array or a
      // complete new one.
      place(*a, e);
      current_.store(a, std::memory_order_release);
    } else {
      place(*a, e);
    }
    ++count_;
  }

  std::size_t size() const noexcept { return count_; }  // with the owner's lock

 private:
  struct Array {
    explicit Array(std::size_t cap) : mask(cap - 1), slots(new std::atomic<T*>[cap]) {
      for (std::size_t i = 0; i < cap; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
    }
    std::size_t mask;
    std::unique_ptr<std::atomic<T*>[]> slots;
  };
  static void place(Array& a, T* e) noexcept {
    for (std::size_t i = e->hash & a.mask;; i = (i + 1) & a.mask) {
      if (a.slots[i].load(std::memory_order_relaxed) == nullptr) {
        a.slots[i].store(e, std::memory_order_release);
        return;
      }
    }
  }

  std::atomic<Array*> current_{nullptr};
  std::vector<std::unique_ptr<Array>> arrays_;  // owner's lock
  std::size_t count_ = 0;                       // owner's lock
};

}  // namespace emp::telemetry::metrics
