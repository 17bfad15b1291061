module eventbench/golden

go 1.21

require github.com/gofrs/uuid v3.1.0+incompatible
