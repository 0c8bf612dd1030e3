ALTER TABLE bookings DROP COLUMN exceptions;
