-- Tracing a leak asks who received an object version: deliveries by object, not only by party.
CREATE INDEX deliveries_by_object ON deliveries (object_seq);
