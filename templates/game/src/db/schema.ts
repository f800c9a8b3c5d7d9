/**
 * The game's SQL: players with their rating, finished matches, and each player's line in a
 * match. Only finished matches reach SQL (through the match actor's outbox, see results.ts);
 * live play stays in actors. Migrations are generated from this file with `pnpm db:generate`
 * into `src/db/migrations/` and applied at every start.
 */
import { boolean, index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/** Humans only (bots never reach SQL). A row appears when a player's first match ends. */
export const players = pgTable(
  "players",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    rating: integer("rating").notNull(),
    games: integer("games").notNull().default(0),
    wins: integer("wins").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("players_rating_idx").on(t.rating.desc(), t.id)],
);

export const matches = pgTable("matches", {
  id: text("id").primaryKey(),
  mode: text("mode").notNull(),
  startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }).notNull(),
  endedAt: timestamp("ended_at", { withTimezone: true, mode: "date" }).notNull(),
  /** How many seats bots took. */
  bots: integer("bots").notNull(),
});

export const matchPlayers = pgTable(
  "match_players",
  {
    matchId: text("match_id")
      .notNull()
      .references(() => matches.id),
    playerId: text("player_id")
      .notNull()
      .references(() => players.id),
    /** The name the player had in that match. */
    name: text("name").notNull(),
    score: integer("score").notNull(),
    kills: integer("kills").notNull(),
    deaths: integer("deaths").notNull(),
    /** 1 = best score of the match (humans and bots ranked together). */
    rank: integer("rank").notNull(),
    won: boolean("won").notNull(),
    ratingBefore: integer("rating_before").notNull(),
    ratingAfter: integer("rating_after").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.matchId, t.playerId] }),
    index("match_players_player_idx").on(t.playerId),
  ],
);
