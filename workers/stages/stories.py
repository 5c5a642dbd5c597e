"""The story index on Redis: one atomic Lua script per article, shared by every worker.

``RedisStoryIndex.assign`` implements ``pipeline.flow.StoryIndex`` with the same decision
rule as ``pipeline.story.MemoryStoryIndex`` (exact URL, exact text, then LSH bands and
anchors verified by estimated Jaccard/containment against up to ``MAX_MEMBERS`` members of
each candidate story, then the event tier: stories sharing a top entity or term, verified
by term cosine and entity weighted Jaccard, then the headline tier: a brief and the story
it announces, by headline containment). The whole look-up-or-create runs in one script, so
concurrent workers given copies or reports of one new story agree on a single ``story_id``.

Keys (``workers.keys``), all expiring after ``story_window_hours``:

- ``story:url:<url key>`` / ``story:hash:<content hash>`` -> ``"<story id>\\n<first record id>"``
  (set once, ``NX``: the first copy stays the one later exact copies point to);
- ``story:band:<band>`` / ``story:anchor:<anchor>`` / ``story:event:<entity or term key>`` /
  ``story:lead:<headline word key>`` -> set of story ids;
- ``story:sig:<story id>`` -> hash ``n``, ``s1..sN`` (packed signatures, empty for a brief
  too short for one), ``z1..zN`` (sizes), ``t1..tN`` / ``e1..eN`` (event term and entity
  weights, ``"hash:weight ..."``, for members that have an event signature), ``l1..lN``
  (headline weights, for members that have a headline signature).

A story's window runs from its first article: its signature hash expires then, and band or
anchor sets naming it are cleaned lazily. The script reads ``story:sig:*`` keys it was not
given in ``KEYS``, which a single Redis (or valkey) allows; Redis Cluster would need the
story keys in one hash slot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis

from pipeline.errors import TransientError
from pipeline.story import (
    ANCHOR_MAX_STORIES,
    BINS,
    BRIEF_MAX_SHINGLES,
    DEFAULT_CONTAINMENT,
    DEFAULT_EVENT_COSINE,
    DEFAULT_EVENT_ENTITIES,
    DEFAULT_LEAD_CONTAINMENT,
    EVENT_KEY_MAX_STORIES,
    LEAD_KEY_MAX_STORIES,
    LEAD_MIN_SHARED,
    MAX_CANDIDATES,
    MAX_MEMBERS,
    MIN_AGREE,
    MIN_NEAR_SHINGLES,
    Assignment,
    Fingerprint,
    encode_weights,
    pack_signature,
    story_id_for,
)
from workers.keys import Keys
from workers.settings import Settings

__all__ = ["ASSIGN_SCRIPT", "RedisStoryIndex"]

# KEYS: url key, hash key, band keys..., anchor keys..., event keys..., headline look-up
#       keys..., headline index keys...
# ARGV: record id, new story id, signature, size, ttl, threshold, containment, #bands,
#       #anchors, sig key prefix, has url, bins, min agree, anchor max, max candidates,
#       max members, min near shingles, #event keys, event terms, event entities,
#       event cosine, event entities threshold, event key max stories, #headline look-up
#       keys, #headline index keys, headline terms, brief max shingles, headline
#       containment, headline min shared, headline key max stories
ASSIGN_SCRIPT = r"""
local record, new_id, sig, size = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local ttl, threshold, containment = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local nbands, nanchors, prefix, has_url = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10], ARGV[11] == '1'
local bins, min_agree, anchor_max = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local max_candidates, max_members, min_near = tonumber(ARGV[15]), tonumber(ARGV[16]), tonumber(ARGV[17])
local nevents, terms, ents = tonumber(ARGV[18]), ARGV[19], ARGV[20]
local ev_cosine, ev_entities, ev_max = tonumber(ARGV[21]), tonumber(ARGV[22]), tonumber(ARGV[23])
local nlookup, nlead, lead = tonumber(ARGV[24]), tonumber(ARGV[25]), ARGV[26]
local brief_max, lead_containment = tonumber(ARGV[27]), tonumber(ARGV[28])
local lead_min, lead_max = tonumber(ARGV[29]), tonumber(ARGV[30])

local function remember(story, first)
  local value = story .. '\n' .. first
  if has_url then redis.call('SET', KEYS[1], value, 'EX', ttl, 'NX') end
  redis.call('SET', KEYS[2], value, 'EX', ttl, 'NX')
end

local function exact(key, kind)
  local value = redis.call('GET', key)
  if not value then return nil end
  local sep = string.find(value, '\n', 1, true)
  local story, first = string.sub(value, 1, sep - 1), string.sub(value, sep + 1)
  remember(story, first)
  if first == record then first = '' end
  return {story, first, kind, '1'}
end

if has_url then
  local hit = exact(KEYS[1], 'url')
  if hit then return hit end
end
local hit = exact(KEYS[2], 'text')
if hit then return hit end

local eligible = sig ~= '' and size >= min_near and string.len(sig) == bins * 4
local last = 2 + nbands + nanchors
local event_eligible = eligible and nevents > 0 and terms ~= '' and ents ~= ''
local last_event = last + nevents
local lead_eligible = lead ~= ''
local brief = size < brief_max
local last_lookup = last_event + nlookup

-- Every write sets the full window: expiries only move forward, and a set outliving its
-- stories is harmless (stale members are dropped when met).
local function index_under(story)
  local upto = last
  if event_eligible then upto = last_event end
  for i = 3, upto do
    redis.call('SADD', KEYS[i], story)
    redis.call('EXPIRE', KEYS[i], ttl)
  end
  for i = last_lookup + 1, last_lookup + nlead do
    redis.call('SADD', KEYS[i], story)
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end

local function add_member(key, n)
  redis.call('HSET', key, 'n', n, 's' .. n, sig, 'z' .. n, size)
  if event_eligible then redis.call('HSET', key, 't' .. n, terms, 'e' .. n, ents) end
  if lead_eligible then redis.call('HSET', key, 'l' .. n, lead) end
end

-- Stories under the keys KEYS[from..to] (skipping keys shared by more than `limit`
-- stories), most shared keys first, then by id.
-- Add this record to ``story`` (as a member while the story has room) and answer.
local function join(story, kind, score)
  remember(story, record)
  local key = prefix .. story
  local n = tonumber(redis.call('HGET', key, 'n'))
  if n < max_members then
    add_member(key, n + 1)
    index_under(story)
  end
  return {story, '', kind, string.format('%.17g', score)}
end

local function ranked(from, to, limit)
  local counts, order = {}, {}
  for i = from, to do
    if redis.call('SCARD', KEYS[i]) <= limit then
      for _, story in ipairs(redis.call('SMEMBERS', KEYS[i])) do
        if counts[story] == nil then
          counts[story] = 0
          order[#order + 1] = story
        end
        counts[story] = counts[story] + 1
      end
    end
  end
  table.sort(order, function(a, b)
    if counts[a] ~= counts[b] then return counts[a] > counts[b] end
    return a < b
  end)
  return order
end

local function weights(data)
  local map, total, squares = {}, 0, 0
  for h, w in string.gmatch(data, '(%d+):(%d+)') do
    w = tonumber(w)
    map[h] = w
    total = total + w
    squares = squares + w * w
  end
  return map, total, squares
end

if eligible then
  local order = ranked(3, last, anchor_max)
  local chunks = {}
  for b = 1, bins * 4, 4 do chunks[#chunks + 1] = string.sub(sig, b, b + 3) end
  local best, best_score, checked = nil, -1, 0
  for _, story in ipairs(order) do
    if checked >= max_candidates then break end
    local fields = redis.call('HGETALL', prefix .. story)
    if #fields == 0 then
      for i = 3, last do redis.call('SREM', KEYS[i], story) end
    else
      checked = checked + 1
      local h = {}
      for i = 1, #fields, 2 do h[fields[i]] = fields[i + 1] end
      for m = 1, tonumber(h['n']) do
        local other, other_size = h['s' .. m], tonumber(h['z' .. m])
        if other and other_size and string.len(other) == bins * 4 and other_size >= min_near then
          local agree = 0
          for k = 1, bins do
            if chunks[k] == string.sub(other, 4 * k - 3, 4 * k) then agree = agree + 1 end
          end
          local jac = agree / bins
          local inter = jac * (size + other_size) / (1.0 + jac)
          local cont = math.min(1.0, inter / math.min(size, other_size))
          if jac >= threshold or (cont >= containment and agree >= min_agree) then
            local score = math.max(jac, cont)
            if score > best_score or (score == best_score and story < best) then
              best, best_score = story, score
            end
          end
        end
      end
    end
  end
  if best then return join(best, 'near', best_score) end
end

-- Event tier: another outlet's report of the same event (see pipeline.story.event_similar).
if event_eligible then
  local order = ranked(last + 1, last_event, ev_max)
  local tmap, _, tsq = weights(terms)
  local emap, etotal = weights(ents)
  local best, best_score, checked = nil, -1, 0
  for _, story in ipairs(order) do
    if checked >= max_candidates then break end
    local fields = redis.call('HGETALL', prefix .. story)
    if #fields == 0 then
      for i = last + 1, last_event do redis.call('SREM', KEYS[i], story) end
    else
      checked = checked + 1
      local h = {}
      for i = 1, #fields, 2 do h[fields[i]] = fields[i + 1] end
      for m = 1, tonumber(h['n']) do
        local other_terms, other_ents = h['t' .. m], h['e' .. m]
        if other_terms and other_ents and other_terms ~= '' and other_ents ~= '' then
          local omap, _, osq = weights(other_terms)
          local dot = 0
          for k, w in pairs(tmap) do
            local o = omap[k]
            if o then dot = dot + w * o end
          end
          local cos = 0.0
          if dot > 0 then cos = dot / math.sqrt(tsq * osq) end
          local oemap, ototal = weights(other_ents)
          local inter = 0
          for k, w in pairs(emap) do
            local o = oemap[k]
            if o then inter = inter + math.min(w, o) end
          end
          local union = etotal + ototal - inter
          local jac = 0.0
          if union > 0 then jac = inter / union end
          if cos >= ev_cosine and jac >= ev_entities then
            if cos > best_score or (cos == best_score and story < best) then
              best, best_score = story, cos
            end
          end
        end
      end
    end
  end
  if best then return join(best, 'event', best_score) end
end

-- Headline tier: a brief and the story it announces (see pipeline.story.lead_similar).
if lead_eligible and nlookup > 0 then
  local order = ranked(last_event + 1, last_lookup, lead_max)
  local lmap, _, _ = weights(lead)
  local lcount, ltotal = 0, 0
  for _, w in pairs(lmap) do
    lcount = lcount + 1
    ltotal = ltotal + w
  end
  local best, best_score, checked = nil, -1, 0
  for _, story in ipairs(order) do
    if checked >= max_candidates then break end
    local fields = redis.call('HGETALL', prefix .. story)
    if #fields == 0 then
      for i = last_event + 1, last_lookup do redis.call('SREM', KEYS[i], story) end
    else
      checked = checked + 1
      local h = {}
      for i = 1, #fields, 2 do h[fields[i]] = fields[i + 1] end
      for m = 1, tonumber(h['n']) do
        local other, other_size = h['l' .. m], tonumber(h['z' .. m])
        if other and other ~= '' and other_size and (brief or other_size < brief_max) then
          local omap, ototal = weights(other)
          local ocount, shared, inter = 0, 0, 0
          for _ in pairs(omap) do ocount = ocount + 1 end
          for k, w in pairs(lmap) do
            local o = omap[k]
            if o then
              shared = shared + 1
              inter = inter + math.min(w, o)
            end
          end
          local total = ototal
          if brief and other_size < brief_max then
            total = math.max(ltotal, ototal)
          elseif brief then
            total = ltotal
          end
          local score = 0.0
          if total > 0 then score = inter / total end
          if lcount >= lead_min and ocount >= lead_min and shared >= lead_min
              and score >= lead_containment then
            if score > best_score or (score == best_score and story < best) then
              best, best_score = story, score
            end
          end
        end
      end
    end
  end
  if best then return join(best, 'lead', best_score) end
end

remember(new_id, record)
if eligible or lead_eligible then
  local key = prefix .. new_id
  redis.call('DEL', key)
  add_member(key, 1)
  redis.call('EXPIRE', key, ttl)
  index_under(new_id)
end
return {new_id, '', 'new', '0'}
"""


def _text(value: Any) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


class RedisStoryIndex:
    """Assign story ids on Redis, atomically across every worker process."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self.client = client
        self.keys = keys
        self.ttl = max(1, round(settings.story_window_hours * 3600))
        self.threshold = settings.story_threshold
        self.containment = getattr(settings, "story_containment", DEFAULT_CONTAINMENT)
        self.event_cosine = getattr(settings, "story_event_cosine", DEFAULT_EVENT_COSINE)
        self.event_entities = getattr(settings, "story_event_entities", DEFAULT_EVENT_ENTITIES)
        self.lead_containment = getattr(
            settings, "story_lead_containment", DEFAULT_LEAD_CONTAINMENT
        )
        self._script = client.register_script(ASSIGN_SCRIPT)

    def assign(self, record_id: str, fp: Fingerprint, at: datetime) -> Assignment:
        """Return the story of ``fp``; ``at`` is not used (the window runs on Redis's clock).

        Raises ``TransientError`` on any Redis error (unreachable, loading, out of memory),
        so the task retries and then dead-letters.
        """
        del at
        eligible = fp.near_eligible
        bands = fp.bands if eligible else ()
        anchors = fp.anchors if eligible else ()
        events = fp.event_keys if fp.event_eligible else ()
        lookup, lead = fp.lead_lookup, fp.lead_keys
        keys = [
            self.keys.story_url(fp.url_key) if fp.url_key else self.keys.story_url("-"),
            self.keys.story_hash(fp.content_hash),
            *(self.keys.story_band(b) for b in bands),
            *(self.keys.story_anchor(a) for a in anchors),
            *(self.keys.story_event(e) for e in events),
            *(self.keys.story_lead(k) for k in lookup),
            *(self.keys.story_lead(k) for k in lead),
        ]
        args: list[Any] = [
            record_id,
            story_id_for(fp),
            pack_signature(fp.minhash) if eligible else b"",
            fp.size,
            self.ttl,
            repr(self.threshold),
            repr(self.containment),
            len(bands),
            len(anchors),
            self.keys.story_sig(""),
            "1" if fp.url_key else "0",
            BINS,
            MIN_AGREE,
            ANCHOR_MAX_STORIES,
            MAX_CANDIDATES,
            MAX_MEMBERS,
            MIN_NEAR_SHINGLES,
            len(events),
            encode_weights(fp.event_terms) if events else "",
            encode_weights(fp.event_entities) if events else "",
            repr(self.event_cosine),
            repr(self.event_entities),
            EVENT_KEY_MAX_STORIES,
            len(lookup),
            len(lead),
            encode_weights(fp.lead_terms) if lead else "",
            BRIEF_MAX_SHINGLES,
            repr(self.lead_containment),
            LEAD_MIN_SHARED,
            LEAD_KEY_MAX_STORIES,
        ]
        try:
            story_id, first, kind, score = (_text(v) for v in self._script(keys=keys, args=args))
        except redis.RedisError as exc:  # unreachable, loading, OOM under noeviction, ...
            raise TransientError(
                f"story index unavailable: {exc}", reason="story_index_unavailable"
            ) from exc
        return Assignment(
            story_id=story_id,
            duplicate_of=first or None,
            match=kind,  # type: ignore[arg-type]
            similarity=round(float(score), 4),
        )
