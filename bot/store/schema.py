"""The one schema: every table of the bot's SQLite file, as numbered migrations in order.

Stories are keyed by (guild, channel); a thread is a channel of its own, so each thread has its
own story, and `story_group.parent_channel_id` records where a story thread was opened from.
Resetting a channel ends its story (kept in the file, no longer active). Turns are never
deleted: undo and regenerate change a turn's status, so history stays.

Version numbers are fixed once applied: add a change as the next number at the end, never edit
an applied entry (`Database.open` refuses duplicate or unordered numbers).
"""

from __future__ import annotations

from bot.store.db import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "stories, turns, their messages, generated prompts, server and channel settings",
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,          -- 0 outside a server (play mode)
            channel_id INTEGER NOT NULL,        -- the channel or thread
            title TEXT NOT NULL DEFAULT '',
            prompt TEXT NOT NULL DEFAULT '',    -- the writing prompt it answers, if any
            genre TEXT,                         -- the genre it was last written in
            created_by INTEGER,
            created_at TEXT NOT NULL,
            ended_at TEXT                       -- set by reset; NULL while active
        );
        CREATE UNIQUE INDEX stories_one_active_per_channel
            ON stories (guild_id, channel_id) WHERE ended_at IS NULL;

        CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,          -- a regeneration takes the position it replaces
            kind TEXT NOT NULL CHECK (kind IN ('human', 'model')),
            task TEXT NOT NULL,                 -- core Task value, or 'write' for a person's text
            author_id INTEGER NOT NULL,         -- who wrote it, or who asked the model
            author_name TEXT NOT NULL,
            genre TEXT,
            emotion TEXT,
            prompt TEXT,                        -- the writing prompt or title it answered
            text TEXT NOT NULL,
            checkpoint TEXT,
            status TEXT NOT NULL DEFAULT 'shown'
                CHECK (status IN ('shown', 'replaced', 'undone')),
            replaces_id INTEGER REFERENCES turns (id),
            kept INTEGER NOT NULL DEFAULT 0,    -- marked for the channel's anthology
            created_at TEXT NOT NULL
        );
        CREATE INDEX turns_by_story ON turns (story_id, position);

        CREATE TABLE turn_messages (
            message_id INTEGER PRIMARY KEY,     -- Discord message showing (part of) the turn
            turn_id INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
            part INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX turn_messages_by_turn ON turn_messages (turn_id);

        CREATE TABLE prompts (
            id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            channel_id INTEGER NOT NULL,
            text TEXT NOT NULL,
            checkpoint TEXT,
            created_at TEXT NOT NULL
        );

        CREATE TABLE guild_settings (
            guild_id INTEGER PRIMARY KEY,
            checkpoint TEXT,
            max_new_tokens INTEGER,
            temperature REAL,
            cooldown_seconds REAL
        );

        CREATE TABLE channel_settings (
            channel_id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            checkpoint TEXT,
            max_new_tokens INTEGER,
            temperature REAL,
            cooldown_seconds REAL
        );
        """,
    ),
    Migration(
        2,
        "group storytelling: story threads, memory and note, turn mode, participants, lore, "
        "votes, moderation",
        """
        CREATE TABLE story_group (
            story_id INTEGER PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,
            parent_channel_id INTEGER,          -- the channel a story thread was opened from
            memory TEXT NOT NULL DEFAULT '',
            authors_note TEXT NOT NULL DEFAULT '',
            mode TEXT NOT NULL DEFAULT 'free' CHECK (mode IN ('free', 'rounds')),
            round_size INTEGER,                 -- NULL: a round is one turn per participant
            listen INTEGER NOT NULL DEFAULT 1,  -- plain messages in a story thread are turns
            candidates INTEGER NOT NULL DEFAULT 1,
            vote_seconds INTEGER NOT NULL DEFAULT 120
        );
        CREATE INDEX story_group_by_parent ON story_group (parent_channel_id);

        CREATE TABLE story_participants (
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            joined_at TEXT NOT NULL,
            PRIMARY KEY (story_id, user_id)
        );

        CREATE TABLE lore_entries (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            name TEXT NOT NULL COLLATE NOCASE,
            keywords TEXT NOT NULL,             -- JSON list of strings
            text TEXT NOT NULL,
            created_by INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (story_id, name)
        );

        CREATE TABLE votes (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            message_id INTEGER,
            candidates TEXT NOT NULL,           -- JSON list of {text, copied}
            task TEXT NOT NULL,
            genre TEXT,
            checkpoint TEXT,
            asked_by INTEGER NOT NULL,
            asked_by_name TEXT NOT NULL,
            participants INTEGER NOT NULL,
            opened_at TEXT NOT NULL,
            timeout_seconds INTEGER NOT NULL,
            closed_at TEXT,
            close_reason TEXT,
            winner INTEGER,                     -- 0-based, NULL when nobody voted
            turn_id INTEGER REFERENCES turns (id)
        );
        CREATE INDEX votes_by_story ON votes (story_id);

        CREATE TABLE vote_ballots (
            vote_id INTEGER NOT NULL REFERENCES votes (id) ON DELETE CASCADE,
            voter_id INTEGER NOT NULL,
            candidate INTEGER NOT NULL,
            cast_at TEXT NOT NULL,
            PRIMARY KEY (vote_id, voter_id)
        );

        CREATE TABLE moderation_settings (
            guild_id INTEGER PRIMARY KEY,
            profanity_filter INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE blocked_terms (
            guild_id INTEGER NOT NULL,
            term TEXT NOT NULL,
            added_by INTEGER,
            added_at TEXT NOT NULL,
            PRIMARY KEY (guild_id, term)
        );
        """,
    ),
    Migration(
        3,
        "manuscripts: a story's word goal and its chapter breaks",
        """
        ALTER TABLE story_group ADD COLUMN word_goal INTEGER;  -- NULL: no goal

        CREATE TABLE story_chapters (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            first_position INTEGER NOT NULL,    -- the chapter starts at the turn in this position
            title TEXT NOT NULL DEFAULT '',
            created_by INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (story_id, first_position)
        );
        """,
    ),
    Migration(
        4,
        "sampler presets per server and channel",
        """
        ALTER TABLE guild_settings ADD COLUMN preset TEXT;
        ALTER TABLE channel_settings ADD COLUMN preset TEXT;
        """,
    ),
)
