-- Trigram indexes serve searchOrders' substring search (orders_search_trgm_idx).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
