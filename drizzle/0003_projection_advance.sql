-- Moves a projection's live checkpoint by compare-and-set, in the statement that writes the read model
-- (see the projection storage): when the checkpoint is not where the runner read from, or the
-- projection is neither RUNNING nor REBUILDING, it raises SQLSTATE CV001 and the whole statement (the
-- read-model writes with it) is rolled back. On success it queues the progress notification
-- ("<projection> <transaction id> <position>") and makes the commit asynchronous: the read model and
-- its checkpoint are kept or lost together, and the events they come from are durable.
CREATE OR REPLACE FUNCTION converge_advance_projection(
	p_name text, p_from_tx xid8, p_from bigint, p_to_tx xid8, p_to bigint, p_channel text
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	UPDATE projections SET position_tx = p_to_tx, position = p_to, updated_at = now()
	WHERE name = p_name AND position_tx = p_from_tx AND position = p_from AND state IN ('RUNNING', 'REBUILDING');
	IF NOT FOUND THEN
		RAISE EXCEPTION 'projection % is no longer at % %', p_name, p_from_tx, p_from USING ERRCODE = 'CV001';
	END IF;
	PERFORM pg_notify(p_channel, p_name || ' ' || p_to_tx || ' ' || p_to);
	PERFORM set_config('synchronous_commit', 'off', true);
	RETURN true;
END
$$;
