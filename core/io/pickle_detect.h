// SPDX-License-Identifier: GPL-3.0-or-later
// Recognising PyTorch pickle checkpoints so they can be refused. torch.save writes either a zip archive whose
// records include "<archive>/data.pkl" (PyTorch >= 1.6) or a raw pickle stream (protocol 2..5 starts with
// 0x80 <protocol>). Unpickling executes arbitrary callables named in the stream, so QuantScope never
// unpickles: these functions only look at magic bytes and zip directory names, and execute nothing.
#pragma once

#include <optional>
#include <span>
#include <string>

namespace qs::io {

enum class ZipKind { NotZip, TorchZip, OtherZip };

// Classifies a zip archive by its central directory (falling back to local headers); bounds-checked.
ZipKind classifyZip(std::span<const std::byte> bytes);

// True for a raw pickle stream (0x80, protocol 2..5).
bool looksLikeRawPickle(std::span<const std::byte> bytes);

// True for names torch.save output usually carries: *.pt, *.pth, pytorch_model*.bin.
bool hasTorchName(const std::string& path);

// The refusal message for a pickle checkpoint; `what` says how it was recognised.
std::string pickleRefusal(const std::string& path, const std::string& what);

}  // namespace qs::io
