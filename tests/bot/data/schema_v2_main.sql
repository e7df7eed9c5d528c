BEGIN TRANSACTION;
CREATE TABLE blocked_terms (
            guild_id INTEGER NOT NULL,
            term TEXT NOT NULL,
            added_by INTEGER,
            added_at TEXT NOT NULL,
            PRIMARY KEY (guild_id, term)
        );
INSERT INTO "blocked_terms" VALUES(1,'goblin',7,'2026-12-03T11:41:24.440+00:00');
CREATE TABLE channel_settings (
            channel_id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            checkpoint TEXT,
            max_new_tokens INTEGER,
            temperature REAL,
            cooldown_seconds REAL
        );
INSERT INTO "channel_settings" VALUES(10,1,'tiny',99,NULL,NULL);
CREATE TABLE guild_settings (
            guild_id INTEGER PRIMARY KEY,
            checkpoint TEXT,
            max_new_tokens INTEGER,
            temperature REAL,
            cooldown_seconds REAL
        );
INSERT INTO "guild_settings" VALUES(1,NULL,NULL,0.5,NULL);
CREATE TABLE lore_entries (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            name TEXT NOT NULL COLLATE NOCASE,
            keywords TEXT NOT NULL,             
            text TEXT NOT NULL,
            created_by INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (story_id, name)
        );
INSERT INTO "lore_entries" VALUES(1,1,'Lamp','["lamp", "light"]','An old oil lamp.',7,'2026-12-03T11:41:24.439+00:00');
CREATE TABLE moderation_settings (
            guild_id INTEGER PRIMARY KEY,
            profanity_filter INTEGER NOT NULL DEFAULT 0
        );
INSERT INTO "moderation_settings" VALUES(1,1);
CREATE TABLE prompts (
            id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            channel_id INTEGER NOT NULL,
            text TEXT NOT NULL,
            checkpoint TEXT,
            created_at TEXT NOT NULL
        );
INSERT INTO "prompts" VALUES(1,1,10,'A door opens.','tiny','2026-12-03T11:41:24.442+00:00');
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO "schema_version" VALUES(1,'stories, turns, their messages, generated prompts, server and channel settings','2026-12-03T11:41:24.429+00:00');
INSERT INTO "schema_version" VALUES(2,'group storytelling: story threads, memory and note, turn mode, participants, lore, votes, moderation','2026-12-03T11:41:24.430+00:00');
CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,          
            channel_id INTEGER NOT NULL,        
            title TEXT NOT NULL DEFAULT '',
            prompt TEXT NOT NULL DEFAULT '',    
            genre TEXT,                         
            created_by INTEGER,
            created_at TEXT NOT NULL,
            ended_at TEXT                       
        );
INSERT INTO "stories" VALUES(1,1,10,'The lighthouse','A light goes out','horror',7,'2026-12-03T11:41:24.431+00:00',NULL);
INSERT INTO "stories" VALUES(2,1,11,'Ended one','',NULL,8,'2026-12-03T11:41:24.442+00:00','2026-12-03T11:41:24.444+00:00');
INSERT INTO "stories" VALUES(3,1,12,'Thread story','',NULL,8,'2026-12-03T11:41:24.444+00:00',NULL);
CREATE TABLE story_group (
            story_id INTEGER PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,
            parent_channel_id INTEGER,          
            memory TEXT NOT NULL DEFAULT '',
            authors_note TEXT NOT NULL DEFAULT '',
            mode TEXT NOT NULL DEFAULT 'free' CHECK (mode IN ('free', 'rounds')),
            round_size INTEGER,                 
            listen INTEGER NOT NULL DEFAULT 1,  
            candidates INTEGER NOT NULL DEFAULT 1,
            vote_seconds INTEGER NOT NULL DEFAULT 120
        );
INSERT INTO "story_group" VALUES(1,NULL,'Keeper: Ada.','Keep it eerie.','rounds',2,1,1,120);
INSERT INTO "story_group" VALUES(3,10,'','','free',NULL,1,1,120);
CREATE TABLE story_participants (
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            joined_at TEXT NOT NULL,
            PRIMARY KEY (story_id, user_id)
        );
INSERT INTO "story_participants" VALUES(1,7,'ada','2026-12-03T11:41:24.438+00:00');
CREATE TABLE turn_messages (
            message_id INTEGER PRIMARY KEY,     
            turn_id INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
            part INTEGER NOT NULL DEFAULT 0
        );
INSERT INTO "turn_messages" VALUES(1001,1,0);
INSERT INTO "turn_messages" VALUES(1002,1,1);
CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,          
            kind TEXT NOT NULL CHECK (kind IN ('human', 'model')),
            task TEXT NOT NULL,                 
            author_id INTEGER NOT NULL,         
            author_name TEXT NOT NULL,
            genre TEXT,
            emotion TEXT,
            prompt TEXT,                        
            text TEXT NOT NULL,
            checkpoint TEXT,
            status TEXT NOT NULL DEFAULT 'shown'
                CHECK (status IN ('shown', 'replaced', 'undone')),
            replaces_id INTEGER REFERENCES turns (id),
            kept INTEGER NOT NULL DEFAULT 0,    
            created_at TEXT NOT NULL
        );
INSERT INTO "turns" VALUES(1,1,1,'model','story',7,'ada','horror',NULL,'A light goes out','The keeper climbed.','tiny','shown',NULL,1,'2026-12-03T11:41:24.433+00:00');
INSERT INTO "turns" VALUES(2,1,2,'human','write',8,'bo',NULL,NULL,NULL,'Something knocked.',NULL,'shown',NULL,0,'2026-12-03T11:41:24.434+00:00');
INSERT INTO "turns" VALUES(3,1,3,'model','continue',8,'bo','horror',NULL,NULL,'Nobody answered.','tiny','replaced',NULL,0,'2026-12-03T11:41:24.435+00:00');
INSERT INTO "turns" VALUES(4,1,3,'model','continue',8,'bo','horror',NULL,NULL,'The lamp flickered.','tiny','shown',3,0,'2026-12-03T11:41:24.436+00:00');
INSERT INTO "turns" VALUES(5,2,1,'human','write',8,'bo',NULL,NULL,NULL,'Once.',NULL,'shown',NULL,0,'2026-12-03T11:41:24.443+00:00');
INSERT INTO "turns" VALUES(6,3,1,'human','write',8,'bo',NULL,NULL,NULL,'In the thread.',NULL,'shown',NULL,0,'2026-12-03T11:41:24.445+00:00');
CREATE TABLE vote_ballots (
            vote_id INTEGER NOT NULL REFERENCES votes (id) ON DELETE CASCADE,
            voter_id INTEGER NOT NULL,
            candidate INTEGER NOT NULL,
            cast_at TEXT NOT NULL,
            PRIMARY KEY (vote_id, voter_id)
        );
INSERT INTO "vote_ballots" VALUES(1,7,1,'2026-12-03T11:41:24.440+00:00');
CREATE TABLE votes (
            id INTEGER PRIMARY KEY,
            story_id INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
            message_id INTEGER,
            candidates TEXT NOT NULL,           
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
            winner INTEGER,                     
            turn_id INTEGER REFERENCES turns (id)
        );
INSERT INTO "votes" VALUES(1,1,NULL,'[{"text": "One.", "copied": false}, {"text": "Two.", "copied": true}]','continue','horror','tiny',7,'ada',2,'2026-12-01T00:00:00.000+00:00',120,NULL,NULL,NULL,NULL);
CREATE UNIQUE INDEX stories_one_active_per_channel
            ON stories (guild_id, channel_id) WHERE ended_at IS NULL;
CREATE INDEX turns_by_story ON turns (story_id, position);
CREATE INDEX turn_messages_by_turn ON turn_messages (turn_id);
CREATE INDEX story_group_by_parent ON story_group (parent_channel_id);
CREATE INDEX votes_by_story ON votes (story_id);
COMMIT;
