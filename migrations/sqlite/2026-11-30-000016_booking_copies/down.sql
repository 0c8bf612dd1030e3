DROP TABLE booking_copies;
