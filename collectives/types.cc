// collectives/types.cc — names of datatypes, reductions, algorithms and
// operations (nccl-tests spellings first, so weft-perf output reads the same).
#include <array>
#include <string>

#include "weft/collectives.h"

namespace weft::coll {

namespace {
struct TypeInfo {
  DataType t;
  size_t size;
  const char* name;   // nccl-tests column spelling
  const char* alias;  // short form accepted on command lines
};
constexpr std::array<TypeInfo, kDataTypeCount> kTypes{{
    {DataType::kF32, 4, "float", "f32"},   {DataType::kF64, 8, "double", "f64"},
    {DataType::kF16, 2, "half", "f16"},    {DataType::kBF16, 2, "bfloat16", "bf16"},
    {DataType::kI8, 1, "int8", "i8"},      {DataType::kU8, 1, "uint8", "u8"},
    {DataType::kI32, 4, "int32", "i32"},   {DataType::kU32, 4, "uint32", "u32"},
    {DataType::kI64, 8, "int64", "i64"},   {DataType::kU64, 8, "uint64", "u64"},
}};
constexpr std::array<const char*, kRedOpCount> kOps{"sum", "prod", "min", "max", "avg"};
constexpr std::array<const char*, 5> kAlgos{"auto", "ring", "rhd", "dbt", "direct"};
}  // namespace

size_t dtype_size(DataType t) { return kTypes[static_cast<int>(t)].size; }
std::string_view dtype_name(DataType t) { return kTypes[static_cast<int>(t)].name; }
std::string_view redop_name(RedOp op) { return kOps[static_cast<int>(op)]; }
std::string_view algorithm_name(Algorithm a) { return kAlgos[static_cast<int>(a)]; }
std::string_view coll_name(CollKind k) {
  static constexpr const char* kNames[] = {"allreduce", "reducescatter", "allgather", "broadcast", "reduce",
                                           "alltoall",  "alltoallv",     "barrier",   "send",      "recv"};
  return kNames[static_cast<int>(k)];
}

Result<DataType> parse_dtype(std::string_view s) {
  for (const auto& t : kTypes)
    if (s == t.name || s == t.alias) return t.t;
  return Status(Code::kInvalidArgument, "unknown datatype '" + std::string(s) +
                                            "': use float, double, half, bfloat16, int8, uint8, int32, uint32, int64, "
                                            "uint64 (or f32, f64, f16, bf16, i8, u8, i32, u32, i64, u64)");
}
Result<RedOp> parse_redop(std::string_view s) {
  for (size_t i = 0; i < kOps.size(); ++i)
    if (s == kOps[i]) return static_cast<RedOp>(i);
  return Status(Code::kInvalidArgument, "unknown reduction '" + std::string(s) + "': use sum, prod, min, max or avg");
}
Result<Algorithm> parse_algorithm(std::string_view s) {
  for (size_t i = 0; i < kAlgos.size(); ++i)
    if (s == kAlgos[i]) return static_cast<Algorithm>(i);
  if (s == "tree") return Algorithm::kDoubleBinaryTree;
  if (s == "halving-doubling") return Algorithm::kRecursiveHalvingDoubling;
  return Status(Code::kInvalidArgument,
                "unknown algorithm '" + std::string(s) + "': use auto, ring, rhd (recursive halving-doubling), dbt "
                                                         "(double binary tree) or direct");
}

}  // namespace weft::coll
