// @peculiar/x509 relies on decorator metadata being available before it is loaded.
import "reflect-metadata";
